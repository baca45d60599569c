import { simulate } from "./simulate.js";

/**
 * `npm run sim -- --seed N --runs K`: seeds N … N+K-1, one JSON line of figures; a failing seed is
 * named with its violations and the command that replays it alone. Exit 1 on any violation.
 */
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`--${name} needs a whole number, got ${JSON.stringify(process.argv[i + 1])}`);
    process.exit(2);
  }
  return v;
}

const seed = arg("seed", 1);
const runs = arg("runs", 1000);
const started = performance.now();
const failures: { seed: number; violations: unknown[]; replay: string }[] = [];
let steps = 0;
let faults = 0;
let simulatedMs = 0;
for (let s = seed; s < seed + runs; s++) {
  const r = simulate({ seed: s });
  steps += r.stepsRun;
  faults += r.faults;
  simulatedMs += r.simulatedMs;
  if (r.violations.length) failures.push({ seed: s, violations: r.violations.slice(0, 5), replay: `npm run sim -- --seed ${s} --runs 1` });
}
const secs = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    ok: failures.length === 0,
    seeds: `${seed}..${seed + runs - 1}`,
    runs,
    schedulesPerSecond: Number((runs / secs).toFixed(1)),
    stepsRun: steps,
    faultsInjected: faults,
    simulatedHours: Number((simulatedMs / 3_600_000).toFixed(1)),
    durationMs: Math.round(secs * 1000),
    ...(failures.length ? { failures: failures.slice(0, 10), failedSeeds: failures.length } : {}),
  }),
);
process.exit(failures.length ? 1 : 0);
