import { readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

const count = async (p: NodeProc) => (await getJson<unknown[]>(`${p.http}/api/stories`)).length;

async function post(server: NodeProc, name: string): Promise<number> {
  const res = await fetch(`${server.http}/api/stories`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  await res.body?.cancel();
  return res.status;
}

/** Flip `n` bytes spread over the middle of the snapshot blob, leaving SQLite's own structure (and the row's checksum) as they were. */
function flipSnapshotBytes(dbFile: string, n: number): number {
  const db = new Database(dbFile);
  try {
    const row = db.prepare("SELECT data FROM snapshot WHERE id = 1").get() as { data: Buffer } | undefined;
    if (!row) throw new Error("no snapshot to damage");
    const data = Buffer.from(row.data);
    for (let i = 0; i < n; i++) {
      const at = Math.floor((data.length * (i + 1)) / (n + 2));
      data[at] = data[at]! ^ 0xff;
    }
    db.prepare("UPDATE snapshot SET data = ? WHERE id = 1").run(data);
    return data.length;
  } finally {
    db.close();
  }
}

describe("flipped bytes in the rendezvous' snapshot (row 11)", () => {
  it("moves the file aside instead of skipping rows silently, refuses writes, and gets all 600 stories back from an agent", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }), agentsToml: commandSlots(1) });
    const agentDir = project.clone("agent");
    let server = await cluster.server(project.root, ["--no-agent"]);
    let agent = await cluster.agent(agentDir, server.ws);
    const names = Array.from({ length: 600 }, (_, i) => `Story ${i}`);
    for (let i = 0; i < names.length; i += 20) {
      const statuses = await Promise.all(names.slice(i, i + 20).map((n) => post(server, n)));
      expect(statuses.every((s) => s === 201)).toBe(true);
    }
    await waitFor(async () => (await count(agent)) === 600, "the agent to hold all 600", 60_000, 250);
    await agent.stop();
    await server.stop();

    const dbFile = join(project.root, ".huskies", "replica.db");
    expect(flipSnapshotBytes(dbFile, 40)).toBeGreaterThan(10_000);
    server = await cluster.server(project.root, ["--no-agent"]);
    const aside = readdirSync(join(project.root, ".huskies")).filter((f) => f.startsWith("replica.db.corrupt-") && !/-(wal|shm)$/.test(f));
    expect(aside).toHaveLength(1);
    const warned = server.logged("replica store suspect: waiting for a sync before trusting it");
    expect(warned).toHaveLength(1);
    expect(String(warned[0]!.reason)).toMatch(/snapshot does not match its checksum.*moved to .*replica\.db\.corrupt-/);
    expect(server.logs.filter((l) => /lost its replica/.test(String(l.msg)))).toHaveLength(1);
    expect(await post(server, "While damaged")).toBe(503);

    agent = await cluster.agent(agentDir, server.ws);
    await waitFor(async () => (await count(server)) === 600, "the server to get all 600 stories back from the agent", 60_000, 250);
    await waitFor(async () => (await post(server, "After repair")) === 201, "writes to be taken again", 30_000, 250);
    expect(await count(server)).toBe(601);
  }, 180_000);
});
