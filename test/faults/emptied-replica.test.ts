import { rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

async function file(server: NodeProc, name: string): Promise<{ status: number; body: { id?: string; error?: string; reason?: string } }> {
  const res = await fetch(`${server.http}/api/stories`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, body: `filed as ${name}` }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

const stories = (p: NodeProc) => getJson<Item[]>(`${p.http}/api/stories`);

/** Zero the replica file as a bad disk or a careless `> replica.db` would. */
function zero(root: string): void {
  const db = join(root, ".huskies", "replica.db");
  truncateSync(db, 0);
  for (const s of ["-wal", "-shm"]) rmSync(db + s, { force: true });
}

describe("a rendezvous whose replica.db was emptied while an agent was off (row 10)", () => {
  it("takes no writes until the agent has synced it back; then numbers go on and nothing is overwritten", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }), agentsToml: commandSlots(1) });
    const agentDir = project.clone("agent");
    let server = await cluster.server(project.root, ["--no-agent"]);
    let agent = await cluster.agent(agentDir, server.ws);
    const before = [await file(server, "alpha"), await file(server, "beta")];
    expect(before.map((r) => r.body.id)).toEqual(["1_story_alpha", "2_story_beta"]);
    await waitFor(async () => (await stories(agent)).length === 2, "the agent to hold both stories");
    await agent.stop();
    await server.stop();

    zero(project.root);
    server = await cluster.server(project.root, ["--no-agent"]);
    const refused = await file(server, "alpha");
    expect(refused.status).toBe(503);
    expect(refused.body.reason).toMatch(/lost its replica .*--accept-empty/);
    const line =
      "this rendezvous lost its replica: it takes no writes until an agent that holds the project syncs with it (if none will, start it with `huskies serve --accept-empty`)";
    expect(server.logged(line)).toHaveLength(1);
    expect(server.logged(line)[0]!.reason).toMatch(/replica\.db was empty/);

    agent = await cluster.agent(agentDir, server.ws);
    await waitFor(async () => (await file(server, "alpha")).status === 201, "writes to be taken after the agent synced", 30_000, 250);
    expect((await file(server, "gamma")).body.id).toBe("4_story_gamma");
    const all = await stories(server);
    expect(all.map((s) => s.id)).toEqual(["1_story_alpha", "2_story_beta", "3_story_alpha", "4_story_gamma"]);
    // The acknowledged first alpha is the one that stays under its id.
    expect(all[0]!.body).toBe("filed as alpha");
    await waitFor(async () => (await stories(agent)).length === 4, "the agent to see all four");

    // An operator who knows no agent will come back says so.
    await agent.stop();
    await server.stop();
    zero(project.root);
    server = await cluster.server(project.root, ["--no-agent", "--accept-empty"]);
    expect((await file(server, "delta")).status).toBe(201);
    expect(server.logged("--accept-empty: taking writes on this replica as the project's state")).toHaveLength(1);
  }, 120_000);
});
