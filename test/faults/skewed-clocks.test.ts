import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
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

const CLOCK_LINE = "a node's clock differs from this node's by more than 5 s (liveness does not depend on it; its times read wrong here)";

describe("clocks that disagree (row 9)", () => {
  it("a rendezvous 30 s ahead and an agent 30 s behind still get all the work done; each skew is logged once and shown in status", async () => {
    project = createProject({ projectToml: projectToml({ node_alive_secs: 10 }), agentsToml: commandSlots(1) });
    const server = await cluster.spawn("server", ["serve", project.root, "--port", "0", "--no-agent"], { clockOffsetMs: 30_000 }).ready();
    const agentArgs = (dir: string) => ["agent", dir, "--rendezvous", server.ws, "--port", "0"];
    const onTime = await cluster.spawn("on-time", agentArgs(project.clone("a1"))).ready();
    const behind = await cluster.spawn("behind", agentArgs(project.clone("a2")), { clockOffsetMs: -30_000 }).ready();

    for (let i = 0; i < 6; i++) await postJson<Item>(`${server.http}/api/stories`, { name: `Story ${i}`, stage: "current" });
    await waitFor(
      async () => (await getJson<Item[]>(`${server.http}/api/stories`)).filter((s) => s.stage === "qa").length === 6,
      "all six stories to reach qa",
      90_000,
      250,
    );
    const ran = [onTime, behind].map((a: NodeProc) => a.logged("agent invocation").length);
    expect(ran.reduce((a, b) => a + b)).toBe(6);
    // Both agents got work: the one 30 s behind is not left out.
    expect(ran.every((n) => n > 0)).toBe(true);

    // The rendezvous says it once per node whose clock is off, and status shows by how much.
    await waitFor(() => server.logged(CLOCK_LINE).length === 2, "both skews to be logged");
    const offsets = server
      .logged(CLOCK_LINE)
      .map((l) => Number(l.offsetSecs))
      .sort((a, b) => a - b);
    expect(offsets[0]).toBeGreaterThanOrEqual(-61);
    expect(offsets[0]).toBeLessThanOrEqual(-59);
    expect(offsets[1]).toBeGreaterThanOrEqual(-31);
    expect(offsets[1]).toBeLessThanOrEqual(-29);
    const status = await runCli(["status", "--server", server.http]);
    expect(status.code).toBe(0);
    const lines = status.stdout.split("\n");
    const lineOf = (p: NodeProc) => lines.find((l) => l.includes(p.nodeId.slice(0, 12)))!;
    expect(lineOf(onTime)).toMatch(/alive, heard \d+s ago .*CLOCK (29|30|31)s behind the server's/);
    expect(lineOf(behind)).toMatch(/alive, heard \d+s ago .*CLOCK (59|60|61)s behind the server's/);
    // Logged once, however many heartbeats came since.
    expect(server.logged(CLOCK_LINE)).toHaveLength(2);
  }, 150_000);
});
