import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAll, type Excused, type Observation, type StoryState, type Violation } from "./invariants.js";
import { ChaosCluster } from "./chaos-cluster.js";
import { describeStep, scheduleOf, type FaultKind, type Step } from "./schedule.js";

export interface ChaosOptions {
  seed: number;
  /** Run steps until this much time has passed… */
  minutes?: number;
  /** …or exactly this many steps (a replay). */
  steps?: number;
  /** A story is filed this often throughout (ms). */
  fileEveryMs?: number;
  /** Extra environment for every node (e.g. HUSKIES_REVERT_FIXES in the test that proves the run can fail). */
  env?: Record<string, string>;
  /** After the last step: how long the cluster gets to settle every story. */
  drainMs?: number;
}

export interface ChaosReport {
  ok: boolean;
  seed: number;
  stepsRun: number;
  faultsInjected: Partial<Record<FaultKind, number>>;
  skipped: Record<string, string>;
  storiesFiled: number;
  storiesAcknowledged: number;
  storiesDone: number;
  storiesBlocked: number;
  invariantChecks: number;
  worstRecoveryMs: number;
  durationMs: number;
  violations?: (Violation & { step: number })[];
  schedule?: string[];
  replay: string;
  /** A failing run keeps its nodes' logs here. */
  logs?: string;
}

/** After a step is healed, how long the cluster gets to answer and make progress before the run moves on. */
const RECOVERY_MS = 60_000;
/** After a freeze or kill, the node needs this long to read that its claims lapsed (claim_timeout_secs + a scan). */
const CLAIM_GRACE_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readStories(http: string): Promise<StoryState[] | undefined> {
  try {
    const res = await fetch(`${http}/api/stories`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? ((await res.json()) as StoryState[]) : undefined;
  } catch {
    return undefined;
  }
}

const settled = (s: StoryState) => s.stage === "done" || s.stage === "archived" || !!s.blocked;

/** `npm run chaos`: one seeded run over real processes; see README "Chaos run". */
export async function chaosRun(o: ChaosOptions): Promise<ChaosReport> {
  const began = performance.now();
  const cluster = await ChaosCluster.start(o.env);
  const acknowledged: string[] = [];
  const excused: Excused[] = [];
  const injected: Partial<Record<FaultKind, number>> = {};
  const skipped: Record<string, string> = {};
  const ran: Step[] = [];
  let filed = 0;
  let checks = 0;
  let worstRecovery = 0;
  let filing = true;
  const violations: (Violation & { step: number })[] = [];
  const keepLogs = join(tmpdir(), `huskies-chaos-seed${o.seed}-${process.pid}`);

  const filer = (async () => {
    while (filing) {
      filed += 1;
      try {
        const res = await fetch(`${cluster.http}/api/stories`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: `Chaos story ${filed}`, stage: "current" }),
          signal: AbortSignal.timeout(5_000),
        });
        if (res.ok) acknowledged.push(((await res.json()) as { id: string }).id);
      } catch {
        // Not acknowledged: nothing is promised about it.
      }
      await sleep(o.fileEveryMs ?? 3_000);
    }
  })();

  const observe = async (final: boolean): Promise<Observation> => ({
    acknowledged: [...acknowledged],
    stories: await readStories(cluster.http),
    jobs: cluster.jobSpans(),
    excused,
    mergedTrailers: cluster.mergedTrailers(),
    unexpectedExits: cluster.unexpectedExits(),
    starts: cluster.jobSpans().map((j) => ({ story: j.story, role: j.role, node: j.node, at: j.start })),
    logBytesPerMinute: cluster.history.flatMap((p, i) =>
      p.bytesPerMinute.map((bytes, minute) => ({ node: `${p.node}#${i}`, minute, bytes: bytes ?? 0 })),
    ),
    final,
  });

  const check = async (step: number, final: boolean): Promise<void> => {
    checks += 1;
    const found = checkAll(await observe(final), performance.now());
    violations.push(...found.map((v) => ({ ...v, step })));
  };

  try {
    const next = scheduleOf(o.seed);
    const deadline = began + (o.minutes ?? 0) * 60_000;
    while (o.steps !== undefined ? ran.length < o.steps : performance.now() < deadline) {
      const step = next();
      ran.push(step);
      await sleep(step.gapMs);
      const healedAt = await inject(cluster, step, excused, skipped);
      if (healedAt !== undefined) injected[step.kind] = (injected[step.kind] ?? 0) + 1;
      worstRecovery = Math.max(worstRecovery, await recovery(cluster.http));
      await check(step.n, false);
      if (violations.length) break;
    }
    filing = false;
    await filer;
    if (!violations.length) {
      // Drain: every story must settle once the faults are healed.
      const until = performance.now() + (o.drainMs ?? 240_000);
      while (performance.now() < until) {
        const stories = await readStories(cluster.http);
        if (stories && stories.every(settled)) break;
        await sleep(1_000);
      }
      await check(ran.length, true);
    }
    const final = (await readStories(cluster.http)) ?? [];
    return {
      ok: violations.length === 0,
      seed: o.seed,
      stepsRun: ran.length,
      faultsInjected: injected,
      skipped,
      storiesFiled: filed,
      storiesAcknowledged: acknowledged.length,
      storiesDone: final.filter((s) => s.stage === "done").length,
      storiesBlocked: final.filter((s) => s.blocked).length,
      invariantChecks: checks,
      worstRecoveryMs: Math.round(worstRecovery),
      durationMs: Math.round(performance.now() - began),
      ...(violations.length ? { violations, schedule: ran.map(describeStep) } : {}),
      replay: `npm run chaos -- --seed ${o.seed} --steps ${ran.length}`,
      ...(violations.length ? { logs: keepLogs } : {}),
    };
  } finally {
    filing = false;
    await filer;
    await cluster.stop(violations.length ? keepLogs : undefined);
  }
}

/**
 * How long after a heal until the rendezvous answers and the pipeline moves (a story settles,
 * or nothing is left open); capped at RECOVERY_MS — a cluster that stays stuck fails the final check.
 */
async function recovery(http: string): Promise<number> {
  const t0 = performance.now();
  const before = (await readStories(http))?.filter(settled).length;
  while (performance.now() - t0 < RECOVERY_MS) {
    const stories = await readStories(http);
    if (stories) {
      const n = stories.filter(settled).length;
      if (stories.every(settled) || (before !== undefined && n > before)) break;
    }
    await sleep(250);
  }
  return performance.now() - t0;
}

/** Apply one step's fault, hold it, heal it; the heal time, or undefined when skipped here. */
async function inject(c: ChaosCluster, s: Step, excused: Excused[], skipped: Record<string, string>): Promise<number | undefined> {
  const target = s.target === "origin" ? undefined : s.target;
  const from = performance.now();
  switch (s.kind) {
    case "freeze": {
      const p = c.procs.get(target!)!;
      p.signal("SIGSTOP");
      await sleep(s.holdMs);
      p.signal("SIGCONT");
      break;
    }
    case "kill": {
      const p = c.procs.get(target!)!;
      p.expectExit();
      p.signal("SIGKILL");
      await p.exited;
      await sleep(s.holdMs);
      await c.startNode(target!);
      break;
    }
    case "disk-full":
      if (!c.disk) {
        skipped["disk-full"] = c.diskUnavailable!;
        return undefined;
      }
      c.disk.fill();
      await sleep(s.holdMs);
      c.disk.free();
      break;
    case "origin-down":
      c.setOriginAway(true);
      await sleep(s.holdMs);
      c.setOriginAway(false);
      break;
    case "origin-refuse":
      c.setOriginRefusing(true);
      await sleep(s.holdMs);
      c.setOriginRefusing(false);
      break;
    case "clock":
      c.setClock(target!, s.offsetMs!);
      await sleep(s.holdMs);
      c.setClock(target!, 0);
      break;
  }
  const to = performance.now();
  if ((s.kind === "freeze" || s.kind === "kill") && target) excused.push({ node: target, from, to: to + CLAIM_GRACE_MS });
  return to;
}
