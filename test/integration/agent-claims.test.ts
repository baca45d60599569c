import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, type NodeProc } from "../support/cluster.js";
import { createProject, originBranches, type Project } from "../support/git-fixture.js";
import { COMMIT_SCRIPT, commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { DocClient } from "../support/doc-client.js";
import { isGone, killTree } from "../../src/runtime/process-tree.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
const orphans: number[] = [];
const clients: DocClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await cluster.stopAll();
  await Promise.all(orphans.splice(0).map((pid) => killTree(pid, 500).catch(() => undefined)));
  project?.cleanup();
});

const item = (server: NodeProc, id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);

/** The coder pid an agent recorded for a story (its process group leader). */
function coderPid(agentRoot: string, id: string): number | undefined {
  const file = join(agentRoot, ".huskies", "running.json");
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, "utf8")) as Record<string, { pid: number }>)[id]?.pid;
}

/** Commits, unless $HANG is set, in which case it sleeps (a coder that is still working). */
const HANG_OR_COMMIT = `if [ -n "$HANG" ]; then sleep 600; fi; ${COMMIT_SCRIPT}`;

describe("claims", () => {
  it("a story put in current is claimed on the document event, not the scan", async () => {
    project = createProject({ projectToml: projectToml({ scan_interval_secs: 600 }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agent = await cluster.agent(project.clone("a"), server.ws);
    await waitFor(
      async () => (await getJson<{ nodes: unknown[] }>(`${server.http}/api/pipeline`)).nodes.length === 2,
      "the agent's heartbeat",
    );
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Fast pickup", stage: "current" });
    // The scan runs every 10 minutes here, so reaching qa at all proves the event path.
    await waitFor(async () => (await item(server, s.id)).stage === "qa", "the story to be worked", 30_000);
    expect(agent.logged("agent invocation").map((l) => l.story)).toEqual([s.id]);
  });

  it("reclaims the work of an agent killed mid-run after claim_timeout_secs", async () => {
    project = createProject({
      projectToml: projectToml({ claim_timeout_secs: 3 }),
      agentsToml: commandSlots(1, HANG_OR_COMMIT, "coder", "coder", ["HANG"]),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const rootA = project.clone("a");
    const a = await cluster.agent(rootA, server.ws, [], { HANG: "1" });
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Survives its coder", stage: "current" });
    await waitFor(async () => (await a.health()).running.includes(s.id), "agent A to run the story");
    orphans.push(await waitFor(() => coderPid(rootA, s.id), "A's coder pid"));
    a.kill("SIGKILL");
    await a.exited;
    const b = await cluster.agent(project.clone("b"), server.ws);
    await waitFor(async () => (await item(server, s.id)).stage === "qa", "B to finish the story after the timeout", 30_000);
    expect(b.logged("agent invocation").map((l) => l.story)).toEqual([s.id]);
    expect((await item(server, s.id)).lastRun?.node).toBe(b.nodeId);
  });

  it("moving a claim to another node stops the original coder and keeps its worktree", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1, HANG_OR_COMMIT, "coder", "coder", ["HANG"]) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const rootA = project.clone("a");
    const a = await cluster.agent(rootA, server.ws, [], { HANG: "1" });
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Reassigned", stage: "current" });
    await waitFor(async () => (await a.health()).running.includes(s.id), "A to run it");
    const pid = await waitFor(() => coderPid(rootA, s.id), "A's coder pid");
    const b = await cluster.agent(project.clone("b"), server.ws);
    await waitFor(async () => (await getJson<{ nodes: unknown[] }>(`${server.http}/api/pipeline`)).nodes.length === 3, "B's heartbeat");

    await postJson(`${server.http}/api/stories/${s.id}/assign`, { node: b.nodeId });
    await waitFor(() => isGone(pid), "A's coder tree to be gone", 5_000, 20);
    await waitFor(() => a.logged("claim lost: stopping coder, keeping worktree").length === 1, "A to log the lost claim");
    expect(existsSync(join(rootA, ".huskies", "worktrees", s.id))).toBe(true);
    await waitFor(async () => (await item(server, s.id)).stage === "qa", "B to finish it");
    expect((await item(server, s.id)).lastRun?.node).toBe(b.nodeId);
  });

  it("keeps working over the mesh while the rendezvous is down, without running a story twice", async () => {
    // A teammate with an operator key (operator_keys): items need an operator's signature to exist.
    const teammate = new DocClient(ephemeralIdentity(), { signs: true });
    clients.push(teammate);
    project = createProject({
      projectToml: projectToml({ autonomous_after_secs: 2 }).replace(
        "[gates]",
        `operator_keys = ["${teammate.identity.nodeId}"]\n\n[gates]`,
      ),
      agentsToml: commandSlots(1),
    });
    const rootS = project.root;
    let server = await cluster.server(rootS, ["--no-agent"]);
    const port = server.port;
    const agents = await Promise.all([1, 2, 3].map((i) => cluster.agent(project!.clone(`agent${i}`), server.ws)));
    await waitFor(
      async () => (await Promise.all(agents.map((a) => a.health()))).every((h) => h.mesh.connected.length === 2),
      "the mesh to form",
    );

    // The teammate's replica, admitted by the rendezvous (it holds a certificate), links to the
    // agents and files stories while the rendezvous is down: agents serve no REST writes.
    await teammate.link(server.ws);
    await server.stop();
    for (const a of agents) await teammate.link(a.ws);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(teammate.pipeline.createItem({ name: `Offline ${i}`, stage: "current" }).id);
    await waitFor(
      async () => {
        const items = await getJson<Item[]>(`${agents[0]!.http}/api/stories`);
        return ids.every((id) => items.find((i) => i.id === id)?.stage === "qa");
      },
      "agents to finish the stories without the rendezvous",
      60_000,
      250,
    );
    expect(agents.some((a) => a.logged("claimed autonomously (rendezvous unreachable)").length > 0)).toBe(true);

    server = await cluster.server(rootS, ["--no-agent", "--port", String(port)]);
    await waitFor(
      async () => {
        const digests = new Set((await Promise.all([server, ...agents].map((n) => n.health()))).map((h) => h.digest));
        return digests.size === 1;
      },
      "all four replicas to converge",
      60_000,
      250,
    );
    const onServer = await getJson<Item[]>(`${server.http}/api/stories`);
    expect(
      onServer
        .filter((i) => i.stage === "qa")
        .map((i) => i.id)
        .sort(),
    ).toEqual([...ids].sort());
    const runs = agents.flatMap((a) => a.logged("agent invocation").map((l) => String(l.story)));
    expect(runs.sort()).toEqual([...ids].sort());
    for (const id of ids) expect(originBranches(project.origin)).toContain(`feature/story-${id}`);
  });
});
