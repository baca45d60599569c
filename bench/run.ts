import { claimLatency } from "./claim-latency.js";
import { drain } from "./drain.js";
import { convergence } from "./convergence.js";
import { footprint } from "./footprint.js";
import { scale } from "./scale.js";
import { DEFAULT_CONFIG, landing } from "./landing.js";
import { confineStart } from "./confine-start.js";
import { board, boardAb } from "./board.js";
import type { BenchResult } from "./stats.js";

/**
 * `npm run bench [-- NAME… ] [-- --quick]`: each benchmark prints one JSON line and checks its
 * own correctness conditions; the process exits 1 if any failed. `--quick` is the small
 * configuration CI runs as a test.
 */
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const wanted = args.filter((a) => !a.startsWith("--"));

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  "claim-latency": () =>
    claimLatency(
      quick ? { agents: 3, stories: 20, minGapMs: 150, maxGapMs: 400 } : { agents: 10, stories: 150, minGapMs: 250, maxGapMs: 750 },
    ),
  drain: () => drain(quick ? { agents: [1, 2], stories: 20 } : { agents: [1, 4, 16], stories: 500 }),
  convergence: () =>
    convergence(quick ? { nodes: 4, editsPerGroup: 100, seedItems: 10 } : { nodes: 20, editsPerGroup: 1000, seedItems: 50 }),
  scale: () =>
    scale(
      quick
        ? {
            agents: [5, 10],
            items: [200, 2000],
            stories: 20,
            storiesPerSec: 10,
            idleSecs: 3,
            scanIntervalSecs: 1,
            fullReplicaAgents: 1,
            threads: 1,
          }
        : {
            agents: [50, 100, 200],
            items: [1000, 10_000],
            stories: 30,
            storiesPerSec: 2,
            idleSecs: 8,
            scanIntervalSecs: 15,
            fullReplicaAgents: 2,
            threads: 2,
          },
    ),
  "confine-start": () => confineStart({ starts: quick ? 5 : 20 }),
  board: () => board(quick ? { items: 2000, loads: 2, opens: 3, files: 2 } : { items: 10_000, loads: 5, opens: 10, files: 5 }),
  "board-ab": () => boardAb(quick ? { items: 2000, rounds: 1 } : { items: 10_000, rounds: 3 }),
  landing: () =>
    landing(
      quick
        ? { coders: 2, stories: 6, overlaps: [0, 0.5], configs: [DEFAULT_CONFIG], latencyMs: 1000, timeoutSecs: 600 }
        : {
            coders: 4,
            stories: 24,
            overlaps: [0, 0.25, 0.5],
            configs: [
              DEFAULT_CONFIG,
              { resolve: "coder", avoid: false },
              { resolve: "mergemaster", avoid: true },
              { resolve: "mergemaster", avoid: false },
            ],
            latencyMs: 1000,
            timeoutSecs: 1800,
          },
    ),
  footprint: () =>
    footprint(
      quick
        ? { idleSecs: 5, items: 1000, heartbeatNodes: 5, heartbeatHours: 1 }
        : { idleSecs: 60, items: 10_000, heartbeatNodes: 50, heartbeatHours: 24 },
    ),
};

const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; choose from ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}

let failed = false;
// board-ab compares with another build, which has to be named (see bench/board.ts), and landing
// runs nine 24-story workloads with real claude (~45 min; ~5 min quick): only on request.
const BY_NAME_ONLY = new Set(["board-ab", "landing"]);
for (const name of wanted.length ? wanted : Object.keys(BENCHES).filter((n) => !BY_NAME_ONLY.has(n))) {
  const started = Date.now();
  const result = await BENCHES[name]!();
  failed ||= !result.ok;
  console.log(
    JSON.stringify({
      ...result,
      quick,
      durationMs: Date.now() - started,
      machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    }),
  );
}
process.exit(failed ? 1 : 0);
