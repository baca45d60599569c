import { spawn, type ChildProcess } from "node:child_process";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { PACKAGE_ROOT } from "../support/paths.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
let locker: ChildProcess | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  locker?.kill();
  locker = undefined;
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  proxy = undefined;
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

/** Another process holding SQLite's write lock on the replica until told (a line on stdin) to let go. */
const LOCKER = `
import Database from "better-sqlite3";
const db = new Database(process.argv[1]);
db.exec("BEGIN IMMEDIATE");
console.log("locked");
process.stdin.once("data", () => { db.exec("COMMIT"); db.close(); console.log("released"); process.exit(0); });
`;

async function lockReplica(root: string): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", LOCKER, join(root, ".huskies", "replica.db")], {
    cwd: PACKAGE_ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  locker = child;
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => lines.push(l));
  await waitFor(() => lines.includes("locked"), "the lock to be taken");
  return async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.stdin!.write("go\n");
    await exited;
    locker = undefined;
  };
}

async function create(
  server: NodeProc,
  name: string,
  key?: string,
): Promise<{ status: number; replayed: boolean; body: Record<string, unknown> }> {
  const res = await fetch(`${server.http}/api/stories`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
    body: JSON.stringify({ name }),
  });
  return { status: res.status, replayed: res.headers.get("idempotent-replayed") === "true", body: (await res.json()) as never };
}

/**
 * A TCP proxy in front of `target` that loses the first answer: the first connection's request
 * reaches the server whole, and the connection is reset as soon as the answer starts to come back
 * (as a dropped link or a client timeout would). Later connections pass through untouched.
 */
async function lossyProxy(target: string): Promise<{ url: string; connections: () => number }> {
  const { hostname, port } = new URL(target);
  let connections = 0;
  const server = createServer((client) => {
    const first = connections++ === 0;
    const upstream = createConnection({ host: hostname, port: Number(port) });
    client.pipe(upstream);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    if (!first) {
      upstream.pipe(client);
      return;
    }
    upstream.once("data", () => {
      client.resetAndDestroy();
      upstream.destroy();
    });
  });
  proxy = server;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, connections: () => connections };
}

const named = async (server: NodeProc, name: string) =>
  (await getJson<Array<{ id: string; name: string }>>(`${server.http}/api/stories`)).filter((s) => s.name === name);

describe("the first 503 of a store outage (row 13)", () => {
  it("a create retried with the same Idempotency-Key gets the item the 503 was about, never a duplicate, also after a restart", async () => {
    project = createProject();
    let server = await cluster.server(project.root, ["--no-agent"]);
    const release = await lockReplica(project.root);

    // The first write of the outage: applied in memory, not persisted, answered 503 — it may still land.
    const first = await create(server, "Only once", "key-1");
    expect(first.status).toBe(503);
    expect(first.body.error).toMatch(/not acknowledged/);
    // Retrying while the store still fails is refused the same way.
    expect((await create(server, "Only once", "key-1")).status).toBe(503);
    await release();

    const retried = await waitFor(async () => {
      const r = await create(server, "Only once", "key-1");
      return r.status === 201 ? r : undefined;
    }, "the retried create to be answered");
    expect(retried.replayed).toBe(true);
    expect(await named(server, "Only once")).toEqual([expect.objectContaining({ id: retried.body.id })]);
    // The same key with another request is the client's mistake.
    expect((await create(server, "Something else", "key-1")).status).toBe(422);

    // Remembered in SQLite: a crash and a restart do not forget the answer.
    server.kill("SIGKILL");
    await server.exited;
    server = await cluster.server(project.root, ["--no-agent"]);
    const afterRestart = await create(server, "Only once", "key-1");
    expect(afterRestart).toMatchObject({ status: 201, replayed: true, body: { id: retried.body.id } });
    expect(await named(server, "Only once")).toHaveLength(1);
  }, 90_000);

  it("`huskies story add` retries a 503 with its key and prints the one id", async () => {
    project = createProject();
    const server = await cluster.server(project.root, ["--no-agent"]);
    const release = await lockReplica(project.root);
    const added = runCli(["story", "add", "From the CLI", "--server", server.http]);
    await waitFor(() => server.logged("replica store failed: refusing writes until it recovers").length > 0, "the outage to begin");
    await release();
    const out = await added;
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toMatch(/^\d+_story_from_the_cli$/);
    expect(await named(server, "From the CLI")).toEqual([expect.objectContaining({ id: out.stdout.trim() })]);
  }, 60_000);

  it("`huskies story add` whose answer is lost retries with its key and files exactly one story", async () => {
    project = createProject();
    const server = await cluster.server(project.root, ["--no-agent"]);
    const lossy = await lossyProxy(server.http);
    const out = await runCli(["story", "add", "Lost answer", "--server", lossy.url]);
    expect(out.code, out.stderr).toBe(0);
    expect(lossy.connections()).toBeGreaterThanOrEqual(2);
    const id = out.stdout.trim();
    expect(id).toMatch(/^\d+_story_lost_answer$/);
    // The first request did land; the retry was answered with it instead of a second item.
    expect(await named(server, "Lost answer")).toEqual([expect.objectContaining({ id })]);
  }, 60_000);
});
