import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { createProject, originBranches, type Project } from "../support/git-fixture.js";
import { COMMIT_SCRIPT, commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { register } from "../support/gateway-client.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

describe("agent lifecycle", () => {
  it("six agents keep at most max_mesh_peers links, and an edit to 1 applies without a restart", async () => {
    project = createProject({ projectToml: projectToml({ max_mesh_peers: 3 }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const roots = [1, 2, 3, 4, 5, 6].map((i) => project!.clone(`agent${i}`));
    const agents = await Promise.all(roots.map((r) => cluster.agent(r, server.ws)));
    await waitFor(
      async () => (await Promise.all(agents.map((a) => a.health()))).every((h) => h.mesh.connected.length === 3),
      "every agent to link 3 peers",
    );
    for (const h of await Promise.all(agents.map((a) => a.health()))) {
      expect(h.mesh.peers).toHaveLength(3);
      expect(h.mesh.peers).not.toContain(h.nodeId);
      expect(h.mesh.peers).not.toContain(server.nodeId);
    }
    for (const r of roots) {
      const file = join(r, ".huskies", "project.toml");
      writeFileSync(file, readFileSync(file, "utf8").replace("max_mesh_peers = 3", "max_mesh_peers = 1"));
    }
    await waitFor(
      async () => (await Promise.all(agents.map((a) => a.health()))).every((h) => h.mesh.peers.length === 1 && h.mesh.max === 1),
      "the new cap to apply",
    );
    // An invalid edit is logged and the running config kept.
    writeFileSync(join(roots[0]!, ".huskies", "project.toml"), "max_mesh_peers = -5\n");
    await waitFor(() => agents[0]!.logged("config edit rejected; keeping the previous config").length > 0, "the rejection to be logged");
    expect((await agents[0]!.health()).mesh.max).toBe(1);
  });

  it("archiving a story removes its worktree", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const rootA = project.clone("a");
    await cluster.agent(rootA, server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "To archive", stage: "current" });
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa", "the story in qa");
    const wt = join(rootA, ".huskies", "worktrees", s.id);
    expect(existsSync(wt)).toBe(true);
    const moved = await runCli(["story", "move", s.id, "archived"], { env: { HUSKIES_SERVER: server.http } });
    expect(moved.code).toBe(0);
    await waitFor(() => !existsSync(wt), "the worktree to be removed");
  });

  it("a restarted agent pushes work its previous run committed but never pushed", async () => {
    // The first run commits, then kills its own agent (SIGKILL) before the push can happen. It
    // waits until the agent has recorded its pid (right after the spawn returns): a kill before
    // that would leave a coder no restart can find, which is not what this test is about.
    const recorded = `until grep -Eq "pid.:$$," "$HUSKIES_WORKTREE/../../running.json" 2>/dev/null; do sleep 0.05; done`;
    const dieOnce = `${COMMIT_SCRIPT} && if [ ! -f "$HUSKIES_WORKTREE/../../died-once" ]; then touch "$HUSKIES_WORKTREE/../../died-once"; ${recorded}; kill -9 $PPID; sleep 600; fi`;
    // `kill $PPID` reaches the agent only from an unconfined (trusted, `sandbox = "off"`) script; a
    // confined coder's crash is test/integration/confined-crash-recovery.test.ts.
    project = createProject({
      projectToml: projectToml(),
      agentsToml: commandSlots(1, dieOnce).replace('runtime = "command"', 'runtime = "command"\nsandbox = "off"'),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const rootA = project.clone("a");
    const first = await cluster.agent(rootA, server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Committed not pushed", stage: "current" });
    await first.exited;
    expect(originBranches(project.origin)).not.toContain(`feature/story-${s.id}`);

    const second = await cluster.agent(rootA, server.ws);
    expect(second.nodeId).toBe(first.nodeId);
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa", "the reconciled story in qa");
    expect(originBranches(project.origin)).toContain(`feature/story-${s.id}`);
    expect(second.logged("reconciled: pushed committed work and advanced").map((l) => l.story)).toEqual([s.id]);
    expect(second.logged("killed coders left running by a previous run")).toHaveLength(1);
    expect(second.logged("agent invocation")).toHaveLength(0);
  });

  it("SIGTERM marks the node not alive and exits 0", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const a = await cluster.agent(project.clone("a"), server.ws);
    await waitFor(
      async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).some((n) => n.id === a.nodeId && n.alive),
      "the agent to be alive",
    );
    a.kill("SIGTERM");
    expect((await a.exited).code).toBe(0);
    await waitFor(
      async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).some((n) => n.id === a.nodeId && !n.alive),
      "the agent marked not alive on the server",
    );
  });
});

describe("gateway", () => {
  it("registers an agent with a one-time join token and a signed challenge, and refuses the token a second time", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const gw = await cluster.gateway();
    const gwUrl = `http://127.0.0.1:${gw.port}`;
    const { token } = await postJson<{ token: string }>(`${gwUrl}/gateway/tokens`, { ttlSecs: 60 });
    const a = await cluster.agent(project.clone("a"), server.ws, ["--join-token", token, "--gateway-url", gwUrl]);
    const listed = await waitFor(
      async () => (await getJson<Array<{ nodeId: string; label: string }>>(`${gwUrl}/gateway/agents`)).find((x) => x.nodeId === a.nodeId),
      "the agent in the gateway",
    );
    expect(listed.label).toBe(`build-agent-${a.nodeId.slice(0, 8)}`);
    const other = ephemeralIdentity();
    const again = await register(gwUrl, other, token);
    expect([again.status, again.body]).toEqual([401, { error: "token already used" }]);
    const unknown = await register(gwUrl, other, "hj_nope");
    expect(unknown.body).toEqual({ error: "unknown token" });
    const { token: shortLived, expiresAt } = await postJson<{ token: string; expiresAt: number }>(`${gwUrl}/gateway/tokens`, {
      ttlSecs: 0.05,
    });
    await waitFor(() => Date.now() > expiresAt + 10, "the short-lived token's expiry");
    const late = await register(gwUrl, other, shortLived);
    expect([late.status, late.body]).toEqual([401, { error: "token expired" }]);
  });

  it("a failed registration is logged, not fatal", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const a = await cluster.agent(project.clone("a"), server.ws, ["--join-token", "hj_bogus", "--gateway-url", "http://127.0.0.1:9"]);
    await waitFor(() => a.logged("gateway registration failed").length === 1, "the failure to be logged");
    expect((await a.health()).rendezvous.connected).toBe(true);
  });
});
