import { chaosRun } from "./chaos-run.js";
import { parseSchedule, type Step } from "./schedule.js";

/**
 * `npm run chaos -- --seed N (--minutes M | --steps K)` or `npm run chaos -- --schedule "kind:target:holdSecs,…"`:
 * prints one JSON line of figures and exits 1 on a violation (the line names each violation's
 * step, the schedule and the replay command), 2 on bad arguments.
 */
function refuse(why: string): never {
  console.error(why);
  process.exit(2);
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) refuse(`--${name} needs a whole number, got ${JSON.stringify(process.argv[i + 1])}`);
  return v;
}

function fixedSchedule(): Step[] | undefined {
  const i = process.argv.indexOf("--schedule");
  if (i < 0) return undefined;
  try {
    return parseSchedule(process.argv[i + 1] ?? "");
  } catch (err) {
    refuse(`--schedule: ${(err as Error).message}`);
  }
}

const seed = arg("seed") ?? 1;
const schedule = fixedSchedule();
const steps = arg("steps");
const minutes = steps === undefined && !schedule ? (arg("minutes") ?? 5) : undefined;
const report = await chaosRun({ seed, minutes, steps, schedule });
console.log(JSON.stringify(report));
if (!report.ok) console.error(`chaos: ${schedule ? "the schedule" : `seed ${seed}`} failed; replay with: ${report.replay}`);
process.exit(report.ok ? 0 : 1);
