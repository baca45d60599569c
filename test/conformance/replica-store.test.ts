import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { describe } from "vitest";
import { MemoryDisk, MemoryStore } from "../../src/state/memory-store.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { PACKAGE_ROOT } from "../support/paths.js";
import { runReplicaStoreTests, type ReplicaStoreSetup } from "./replica-store.js";

const COMPILED_STORE = join(PACKAGE_ROOT, "dist", "src", "state", "sqlite-store.js");

/** Appends counter updates forever (one per tick), printing each acknowledged one; killed by the test. */
const CRASH_CHILD = `
import { SqliteStore } from ${JSON.stringify(COMPILED_STORE)};
import * as Y from "yjs";
const store = new SqliteStore(process.argv[1]);
const doc = new Y.Doc();
let n = 0;
doc.on("update", (u) => { store.append(u); process.stdout.write("acked " + n + "\\n"); });
const step = () => { n += 1; doc.getMap("m").set("counter", n); setImmediate(step); };
step();
`;

function sqliteSetup(): ReplicaStoreSetup {
  const dir = mkdtempSync(join(tmpdir(), "huskies-store-"));
  const file = join(dir, "replica.db");
  return {
    name: "sqlite",
    open: () => new SqliteStore(file),
    lock() {
      // Another process's write transaction, as `BEGIN IMMEDIATE` from any SQLite client holds it.
      const other = new Database(file);
      other.exec("BEGIN IMMEDIATE");
      return () => {
        other.exec("COMMIT");
        other.close();
      };
    },
    async crash(minAcked) {
      if (!existsSync(COMPILED_STORE)) throw new Error(`${COMPILED_STORE} is missing: run \`npm run build:server\` first`);
      const child = spawn(process.execPath, ["--input-type=module", "-e", CRASH_CHILD, file], {
        cwd: PACKAGE_ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      let acked = 0;
      await new Promise<void>((resolve) => {
        createInterface({ input: child.stdout! }).on("line", (line) => {
          acked = Math.max(acked, Number(line.split(" ")[1]));
          if (acked >= minAcked) {
            child.kill("SIGKILL");
            resolve();
          }
        });
        void exited.then(() => resolve());
      });
      await exited;
      return acked;
    },
    teardown: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function memorySetup(): ReplicaStoreSetup {
  const disk = new MemoryDisk();
  return {
    name: "memory",
    open: () => new MemoryStore(disk),
    lock() {
      disk.failWrites = "SQLITE_BUSY";
      return () => {
        disk.failWrites = undefined;
      };
    },
    teardown: () => {},
  };
}

describe("SqliteStore", () => runReplicaStoreTests(sqliteSetup, { crashable: true }));
describe("MemoryStore", () => runReplicaStoreTests(memorySetup, { crashable: false }));
