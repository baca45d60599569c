import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { PACKAGE_ROOT } from "../support/paths.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

/** Another process holding SQLite's write lock on `file` for `ms` (what any sqlite3 client's BEGIN IMMEDIATE does). */
const LOCKER = `
import Database from "better-sqlite3";
const db = new Database(process.argv[1]);
db.exec("BEGIN IMMEDIATE");
console.log("locked");
setTimeout(() => { db.exec("COMMIT"); db.close(); console.log("released"); }, Number(process.argv[2]));
`;

async function post(base: string, name: string): Promise<{ name: string; status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/stories`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, stage: "backlog" }),
  });
  return { name, status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("a replica.db write-locked by another process", () => {
  it("acknowledges only what it persisted, recovers after the lock, and keeps every 2xx story across a restart", async () => {
    project = createProject();
    const server = await cluster.server(project.root, ["--no-agent"]);
    const results = [await post(server.http, "Before the lock")];
    expect(results[0]!.status).toBe(201);

    const locker = spawn(process.execPath, ["--input-type=module", "-e", LOCKER, join(project.root, ".huskies", "replica.db"), "7000"], {
      cwd: PACKAGE_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    createInterface({ input: locker.stdout! }).on("line", (l) => lines.push(l));
    const released = new Promise((resolve) => locker.once("exit", resolve));
    await waitFor(() => lines.includes("locked"), "the lock to be taken");

    // Post while the lock is held, each answer awaited; a refused write answers at once, so the
    // count is capped and the rest of the lock is waited out on the locker's exit.
    let i = 0;
    while (!lines.includes("released") && i < 100) results.push(await post(server.http, `Locked ${i++}`));
    await released;
    const during = results.slice(1);
    expect(during.length).toBeGreaterThan(5);
    const refused = during.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(String(refused[0]!.body.reason)).toMatch(/SQLITE_BUSY/);
    expect(during.every((r) => r.status === 201 || r.status === 503)).toBe(true);
    await waitFor(
      () => server.logged("replica store failed: refusing writes until it recovers").length === 1,
      "the failure to be logged once",
    );

    // Writes are accepted again once the store has drained its queue.
    const after = await waitFor(
      async () => {
        const r = await post(server.http, `After ${i++}`);
        results.push(r);
        return r.status === 201 ? r : undefined;
      },
      "a write to be accepted again",
      20_000,
      200,
    );
    expect(after.status).toBe(201);
    await waitFor(() => server.logged("replica store recovered: accepting writes again").length === 1, "the recovery to be logged");

    // A crash now must lose nothing that was acknowledged.
    server.kill("SIGKILL");
    await server.exited;
    const again = await cluster.server(project.root, ["--no-agent"]);
    const names = new Set((await getJson<Array<{ name: string }>>(`${again.http}/api/stories`)).map((s) => s.name));
    const acknowledged = results.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.name);
    expect(acknowledged.length).toBeGreaterThanOrEqual(2);
    expect(acknowledged.filter((n) => !names.has(n))).toEqual([]);
  });
});
