import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { Replica } from "../../src/state/replica.js";
import { openSqliteStore, SqliteStore } from "../../src/state/sqlite-store.js";
import { JoinTokenStore } from "../../src/trust/join-tokens.js";

const dirs: string[] = [];
function dbFile(): string {
  const d = mkdtempSync(join(tmpdir(), "huskies-damage-"));
  dirs.push(d);
  return join(d, "replica.db");
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A replica file with three stories compacted into its snapshot, and a join token beside them. */
function filled(file: string): string {
  const r = new Replica(new SqliteStore(file));
  for (const name of ["a", "b", "c"]) r.pipeline.createItem({ name });
  (r.store as SqliteStore).compact(Y.encodeStateAsUpdate(r.doc));
  const token = new JoinTokenStore((r.store as SqliteStore).db).create(600).token;
  r.close();
  return token;
}

function corruptSnapshot(file: string, opts: { keepSum: boolean; garbage?: boolean }): void {
  const db = new Database(file);
  const row = db.prepare("SELECT data FROM snapshot WHERE id = 1").get() as { data: Buffer };
  const data = opts.garbage ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) : Buffer.from(row.data);
  const at = Math.floor(data.length / 2);
  if (!opts.garbage) data[at] = data[at]! ^ 0x01;
  db.prepare(`UPDATE snapshot SET data = ?${opts.keepSum ? "" : ", sum = NULL"} WHERE id = 1`).run(data);
  db.close();
}

const aside = (file: string) => readdirSync(join(file, "..")).filter((f) => /^replica\.db\.corrupt-\d+$/.test(f));

describe("a damaged replica file", () => {
  it("a row that does not match its checksum moves the file aside (side tables kept) and starts empty and suspect", () => {
    const file = dbFile();
    const token = filled(file);
    corruptSnapshot(file, { keepSum: true });
    const warnings: string[] = [];
    const store = openSqliteStore(file, { warn: (_m, f) => warnings.push(String(f.reason)) });
    const r = new Replica(store);
    expect(r.pipeline.listItems()).toEqual([]);
    expect(r.suspect).toMatch(/the snapshot does not match its checksum.*moved to .*replica\.db\.corrupt-/);
    expect(warnings).toHaveLength(1);
    expect(aside(file)).toHaveLength(1);
    // Join tokens live beside the replica; a damaged replica row does not cost them.
    expect(new JoinTokenStore(store.db).consume(token, "f".repeat(64)).ok).toBe(true);
    r.close();
  });

  it("an unchecked row (written before checksums) that Yjs cannot decode also moves the file aside", () => {
    const file = dbFile();
    filled(file);
    corruptSnapshot(file, { keepSum: false, garbage: true });
    const r = new Replica(openSqliteStore(file));
    expect(r.suspect).toMatch(/held a damaged row \(1 damaged update\(s\), the first at row 1 of \d+: .*\); moved to .*corrupt-/);
    expect(r.pipeline.listItems()).toEqual([]);
    expect(aside(file)).toHaveLength(1);
    // The new file works.
    r.pipeline.createItem({ name: "after" });
    r.close();
    const again = new Replica(openSqliteStore(file));
    expect(again.pipeline.listItems().map((i) => i.name)).toEqual(["after"]);
    expect(again.suspect).toBeUndefined();
    again.close();
  });

  it("a missing file is suspect only when this node ran here before", () => {
    const file = dbFile();
    const fresh = openSqliteStore(file);
    expect(fresh.suspect).toBeUndefined();
    fresh.close();
    const other = dbFile();
    const s = openSqliteStore(other, { expectData: true });
    expect(s.suspect).toMatch(/is missing although this node ran here before/);
    expect(existsSync(other)).toBe(true);
    s.close();
  });
});
