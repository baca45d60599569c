import { getJson, postJson } from "../test/support/cluster.js";
import { waitFor } from "../test/support/wait-for.js";
import type { Item, NodeEntry } from "../src/state/item.js";
import { invocationsByStory, startBenchCluster } from "./bench-cluster.js";
import type { BenchResult } from "./stats.js";

/**
 * N agents (one coder slot each) with an instant coder that commits one file; all stories go into
 * `current` at once. Coordination per story = slot time not spent inside a job
 * (wall time × slots − Σ job time) / stories: claim, stage writes and sync, without coder and git.
 *
 * The stories are filed while the agents are paused (an operator's pause, through REST) and the
 * clock starts when they are resumed. Filing 500 stories through REST takes seconds on a 2-core
 * machine whose agents are busy with git, and agents waiting for stories that do not exist yet is
 * the client's pace, not coordination (measured: with filing inside the clock, 4 agents waited
 * ~1.5 s each while the stories trickled in, which was half the figure).
 */
export async function drainOnce(agents: number, stories: number): Promise<{ results: Record<string, unknown>; failures: string[] }> {
  const c = await startBenchCluster({ agents, slots: 1 });
  try {
    const nodes = `${c.server.http}/api/nodes`;
    await Promise.all(c.agents.map((a) => postJson(`${nodes}/${a.nodeId}/pause`, { reason: "drain benchmark: filing stories" })));
    await waitFor(async () => (await getJson<NodeEntry[]>(nodes)).filter((n) => n.paused).length === agents, "every agent paused", 30_000);
    await Promise.all(
      Array.from({ length: stories }, (_, i) => postJson<Item>(`${c.server.http}/api/stories`, { name: `Drain ${i}`, stage: "current" })),
    );
    const start = Date.now();
    await Promise.all(c.agents.map((a) => postJson(`${nodes}/${a.nodeId}/resume`, {})));
    const items = await waitFor(
      async () => {
        const all = await getJson<Item[]>(`${c.server.http}/api/stories`);
        return all.every((i) => i.stage === "qa" || i.blocked) && all.length === stories ? all : undefined;
      },
      "every story to reach qa",
      15 * 60_000,
      200,
    );
    const wallMs = Date.now() - start;
    const jobMs = c.agents.flatMap((a) => a.logged("job finished").map((l) => Number(l.ms))).reduce((x, y) => x + y, 0);
    const runs = invocationsByStory(c.agents);
    const duplicates = [...runs.values()].filter((n) => n.size > 1).length;
    const losses = items.filter((i) => i.stage !== "qa").length + (stories - items.length);
    const failures = [
      ...(duplicates ? [`N=${agents}: ${duplicates} duplicates`] : []),
      ...(losses ? [`N=${agents}: ${losses} stories lost or blocked`] : []),
    ];
    return {
      results: {
        agents,
        stories,
        wallMs,
        storiesPerMinute: Math.round((stories / wallMs) * 60_000),
        meanJobMs: Math.round(jobMs / stories),
        coordinationMsPerStory: Math.round((wallMs * agents - jobMs) / stories),
        duplicates,
        losses,
      },
      failures,
    };
  } finally {
    await c.stop();
  }
}

export async function drain(p: { agents: number[]; stories: number }): Promise<BenchResult> {
  const runs: Record<string, unknown>[] = [];
  const failures: string[] = [];
  for (const n of p.agents) {
    const r = await drainOnce(n, p.stories);
    runs.push(r.results);
    failures.push(...r.failures);
  }
  return { bench: "drain", params: p, results: { runs }, ok: failures.length === 0, failures };
}
