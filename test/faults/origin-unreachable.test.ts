import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { cpuMeter, errorLines, jobStarts, logBytesPerMinute, waitForLine } from "../support/fault-kit.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let blackHole: { server: Server; sockets: Socket[] } | undefined;
afterEach(async () => {
  await cluster.stopAll();
  for (const s of blackHole?.sockets ?? []) s.destroy();
  await new Promise((r) => (blackHole ? blackHole.server.close(r) : r(undefined)));
  blackHole = undefined;
  project?.cleanup();
  project = undefined;
});

/** An "origin" that accepts connections and never says a word (a hung server, a dead NAT entry). */
async function silentOrigin(): Promise<string> {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  blackHole = { server, sockets };
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/origin.git`;
}

describe("origin out of reach from one agent (issue 24, row 4)", () => {
  it("every git wait is bounded; the agent pauses once, no story is charged, the other agent does them all", async () => {
    project = createProject({ projectToml: projectToml({ max_coders: 1, git_timeout_secs: 3 }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const rootA = project.clone("a");
    git(rootA, "remote", "set-url", "origin", await silentOrigin());
    const a = await cluster.agent(rootA, server.ws);
    const stories: Item[] = [];
    for (let i = 0; i < 4; i++) stories.push(await postJson<Item>(`${server.http}/api/stories`, { name: `Story ${i}`, stage: "current" }));

    // A works from the refs it has, then its push waits on a silent origin: killed after 3 s.
    const trouble = await waitForLine(
      a,
      (l) => String(l.msg).startsWith("node trouble: claim given back"),
      "A to call its push node trouble",
    );
    expect(trouble).toMatchObject({ kind: "origin_unreachable" });
    expect(String(trouble.reason)).toMatch(/origin unreachable \(git push\).*timed out after 3s/);
    expect(String(trouble.msg)).toContain("check that this machine reaches origin");
    const meter = cpuMeter(a.proc.pid!);
    const since = Date.now();

    const b = await cluster.agent(project.clone("b"), server.ws);
    const done = await waitFor(
      async () => {
        const all = await Promise.all(stories.map((s) => getJson<Item>(`${server.http}/api/stories/${s.id}`)));
        return all.every((s) => s.stage === "qa") ? all : undefined;
      },
      "agent B to do all four stories",
      90_000,
    );
    for (const s of done) {
      expect(s.retries).toBe(0);
      expect(s.failure ?? "").not.toContain("rejected");
      expect(s.lastRun?.node).toBe(b.nodeId);
    }
    // A ran one coder, paused once, and stayed quiet: no crash, no loop, no flood.
    const startsOnA = stories.flatMap((s) => jobStarts(a, s.id));
    expect(startsOnA).toHaveLength(1);
    expect(errorLines(a).filter((l) => String(l.msg).startsWith("node trouble"))).toHaveLength(1);
    expect(a.proc.exitCode).toBeNull();
    expect(((await a.health()) as unknown as { paused: { reason: string } | null }).paused?.reason).toMatch(/^origin unreachable/);
    expect(logBytesPerMinute(a, since)).toBeLessThan(1024 * 1024);
    // A loop costs a whole core; following the other agent's signed writes (sync, verification)
    // costs a few percent, more on a loaded machine.
    expect(meter.share()).toBeLessThan(0.25);
  }, 150_000);
});
