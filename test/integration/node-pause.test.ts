import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

describe("pausing a node", () => {
  it("an operator pause stops new work on that node (running work and worktrees stay); resume takes it up again", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agent = await cluster.agent(project.clone("a"), server.ws, ["--label", "laptop"]);
    const env = { HUSKIES_SERVER: server.http };
    const node = async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === agent.nodeId);
    await waitFor(node, "the agent's entry");

    const paused = await runCli(["node", "pause", "laptop", "--reason", "lunch break"], { env });
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain("laptop");
    await waitFor(async () => (await node())?.paused?.reason === "lunch break", "the pause in the agent's own entry");
    expect((await node())!.paused!.until).toBeNull();
    expect((await agent.health()).paused).toMatchObject({ reason: "lunch break", until: null });

    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "While paused", stage: "current" });
    // Several scans (1 s here) pass without the paused node asking for it.
    const seen = async () => (await node())!.lastSeen;
    const t0 = await seen();
    await waitFor(async () => (await seen()) >= t0 + 2500, "a few heartbeats");
    const waiting = await getJson<Item>(`${server.http}/api/stories/${s.id}`);
    expect(waiting).toMatchObject({ stage: "current", claim: null, requests: {} });
    expect(agent.logged("agent invocation")).toHaveLength(0);
    const status = await runCli(["status"], { env });
    expect(status.stdout).toMatch(/PAUSED: lunch break \(until resumed\)/);

    expect((await runCli(["node", "resume", agent.nodeId.slice(0, 10)], { env })).code).toBe(0);
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa",
      "the resumed node to do the story",
    );
    expect((await node())!.paused).toBeNull();
  });

  it("refuses unknown nodes and bad bodies with 4xx", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const unknown = await fetch(`${server.http}/api/nodes/nope/pause`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(unknown.status).toBe(404);
    const res = await fetch(`${server.http}/api/nodes/${server.nodeId}/pause`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: 42 }),
    });
    expect(res.status).toBe(200);
    await waitFor(
      async () => ((await server.health()) as unknown as { paused: { reason: string } | null }).paused?.reason === "paused by an operator",
      "the server paused",
    );
  });
});
