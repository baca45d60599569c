import { claimLatency } from "./claim-latency.js";
import { drain } from "./drain.js";
import { convergence } from "./convergence.js";
import { footprint } from "./footprint.js";
import { scale } from "./scale.js";
import { soak, soakParams } from "./soak.js";
import { confineStart } from "./confine-start.js";
import { board, boardAb } from "./board.js";
import type { BenchResult } from "./stats.js";

/**
 * `npm run bench [-- NAME… ] [-- --quick] [-- --minutes N]`: each benchmark prints one JSON line
 * and checks its own correctness conditions; the process exits 1 if any failed. `--quick` is the
 * small configuration CI runs as a test. `soak` (30 minutes, `--minutes N`) runs only when named.
 */
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const minutesAt = args.indexOf("--minutes");
const minutes = minutesAt >= 0 ? Number(args[minutesAt + 1]) : undefined;
if (minutes !== undefined && !(minutes > 0)) {
  console.error(`--minutes needs a positive number, got ${args[minutesAt + 1] ?? "nothing"}`);
  process.exit(2);
}
const wanted = args.filter((a, i) => !a.startsWith("--") && !(minutesAt >= 0 && i === minutesAt + 1));

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
  footprint: () =>
    footprint(
      quick
        ? { idleSecs: 5, items: 1000, heartbeatNodes: 5, heartbeatHours: 1 }
        : { idleSecs: 60, items: 10_000, heartbeatNodes: 50, heartbeatHours: 24 },
    ),
};
/** Run only when named: half an hour is not part of `npm run bench`. */
const ON_REQUEST: Record<string, () => Promise<BenchResult>> = {
  soak: () => soak(soakParams(minutes ?? (quick ? 2 : 30), quick)),
};

const unknown = wanted.filter((w) => !(w in BENCHES) && !(w in ON_REQUEST));
if (unknown.length) {
  console.error(
    `unknown benchmark(s): ${unknown.join(", ")}; choose from ${[...Object.keys(BENCHES), ...Object.keys(ON_REQUEST)].join(", ")}`,
  );
  process.exit(2);
}

let failed = false;
// board-ab compares with another build, which has to be named (see bench/board.ts): only on request.
for (const name of wanted.length ? wanted : Object.keys(BENCHES).filter((n) => n !== "board-ab")) {
  const started = Date.now();
  const result = await (BENCHES[name] ?? ON_REQUEST[name])!().catch((err: unknown): BenchResult => ({
    bench: name,
    params: {},
    results: {},
    ok: false,
    failures: [`${(err as Error).message}`],
  }));
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
