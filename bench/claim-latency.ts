import { postJson } from "../test/support/cluster.js";
import { waitFor } from "../test/support/wait-for.js";
import type { Item } from "../src/state/item.js";
import { invocationsByStory, startBenchCluster } from "./bench-cluster.js";
import { percentiles, type BenchResult } from "./stats.js";

/**
 * Rendezvous + idle agents; stories go into `current` one at a time at random intervals.
 * Latency = the coder's start on some agent (its "agent process started" log time: after the
 * confinement's setup and the spawn) minus the item's creation time on the server (both on this
 * machine's clock).
 */
export async function claimLatency(p: { agents: number; stories: number; minGapMs: number; maxGapMs: number }): Promise<BenchResult> {
  const c = await startBenchCluster({ agents: p.agents, slots: 1 });
  try {
    const created = new Map<string, number>();
    for (let i = 0; i < p.stories; i++) {
      const item = await postJson<Item>(`${c.server.http}/api/stories`, { name: `Latency ${i}`, stage: "current" });
      created.set(item.id, item.createdAt);
      await new Promise((r) => setTimeout(r, p.minGapMs + Math.random() * (p.maxGapMs - p.minGapMs)));
    }
    await waitFor(() => invocationsByStory(c.agents).size === p.stories, "every story's coder to start", 120_000, 100);
    await waitFor(
      () => new Set(c.agents.flatMap((a) => a.logged("agent process started").map((l) => String(l.story)))).size === p.stories,
      "every story's coder process to start",
      30_000,
      100,
    );
    const firstStart = new Map<string, number>();
    const invoked = new Map<string, number>();
    const claimed = new Map<string, number>();
    for (const a of c.agents) {
      for (const l of a.logged("agent process started")) {
        const id = String(l.story);
        firstStart.set(id, Math.min(firstStart.get(id) ?? Infinity, Number(l.time)));
      }
      // Before the confinement's setup and the spawn: the figure of earlier waves (issue 15).
      for (const l of a.logged("agent invocation"))
        invoked.set(String(l.story), Math.min(invoked.get(String(l.story)) ?? Infinity, Number(l.time)));
      for (const l of a.logged("job started"))
        claimed.set(String(l.story), Math.min(claimed.get(String(l.story)) ?? Infinity, Number(l.time)));
    }
    const coderStart = [...created].map(([id, t]) => firstStart.get(id)! - t);
    const claim = [...created].map(([id, t]) => claimed.get(id)! - t);
    const duplicates = [...invocationsByStory(c.agents).values()].filter((nodes) => nodes.size > 1).length;
    const s = percentiles(coderStart);
    const failures = [
      ...(duplicates ? [`${duplicates} stories started by more than one agent`] : []),
      ...(created.size !== firstStart.size ? ["not every story started"] : []),
    ];
    return {
      bench: "claim-latency",
      params: p,
      results: {
        coderStartMs: s,
        claimGrantedMs: percentiles(claim),
        coderInvocationMs: percentiles([...created].map(([id, t]) => invoked.get(id)! - t)),
        duplicates,
        targets: { p50Under50: s.p50 < 50, p99Under250: s.p99 < 250 },
      },
      ok: failures.length === 0,
      failures,
    };
  } finally {
    await c.stop();
  }
}
