import { chaosRun } from "./chaos-run.js";

/**
 * `npm run chaos -- --seed N (--minutes M | --steps K)`: prints one JSON line of figures and exits
 * 1 on a violation (the line names each violation's step, the schedule and the replay command).
 */
function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`--${name} needs a whole number, got ${JSON.stringify(process.argv[i + 1])}`);
    process.exit(2);
  }
  return v;
}

const seed = arg("seed") ?? 1;
const steps = arg("steps");
const minutes = steps === undefined ? (arg("minutes") ?? 5) : undefined;
const report = await chaosRun({ seed, minutes, steps });
console.log(JSON.stringify(report));
if (!report.ok) console.error(`chaos: seed ${seed} failed; replay with: ${report.replay}`);
process.exit(report.ok ? 0 : 1);
