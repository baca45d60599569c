import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAll, type Excused, type Observation, type StoryState, type Violation } from "./invariants.js";
import { ChaosCluster } from "./chaos-cluster.js";
import { describeStep, formatSchedule, NODES, POISONED_COUNTER, scheduleOf, type FaultKind, type Step } from "./schedule.js";
import { ANSWER_MS, checkWrites } from "./write-invariants.js";

export interface ChaosOptions {
  seed: number;
  /** Run steps until this much time has passed… */
  minutes?: number;
  /** …or exactly this many steps (a replay). */
  steps?: number;
  /** …or these steps instead of the seed's (`--schedule`: a fault named, not drawn). */
  schedule?: Step[];
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
/**
 * Every story is filed under this one name, as people file "Fix login" twice: ids stay unique only
 * by their number, so a rendezvous that numbers anew (an emptied replica) reuses an acknowledged id.
 */
const STORY_NAME = "Chaos story";
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

/**
 * Whether the rendezvous takes writes: one that lost its replica refuses them until an agent has
 * synced it, and meanwhile serves the empty document it has (reads are not fenced).
 */
async function takesWrites(http: string): Promise<boolean> {
  try {
    const res = await fetch(`${http}/health`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return false;
    return ((await res.json()) as { replica?: { takesWrites?: boolean } }).replica?.takesWrites !== false;
  } catch {
    return false;
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
  // When the rendezvous last answered a read, or a fault holding it was healed.
  let answeredAt = performance.now();
  const read = async () => {
    const stories = await readStories(cluster.http);
    if (stories) answeredAt = performance.now();
    return stories;
  };
  const keepLogs = join(tmpdir(), `huskies-chaos-seed${o.seed}-${process.pid}`);

  const filer = (async () => {
    while (filing) {
      filed += 1;
      try {
        const res = await fetch(`${cluster.http}/api/stories`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: STORY_NAME, body: `create #${filed}`, stage: "current" }),
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
    stories: await read(),
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
    const o = await observe(final);
    const now = performance.now();
    const found = [...checkAll(o, now), ...checkWrites({ ...o, silentMs: o.stories ? 0 : now - answeredAt })];
    violations.push(...found.map((v) => ({ ...v, step })));
  };

  try {
    const fixed = o.schedule ? [...o.schedule] : undefined;
    const next = fixed ? () => fixed.shift()! : scheduleOf(o.seed);
    const deadline = began + (o.minutes ?? 0) * 60_000;
    const more = () => (fixed ? fixed.length > 0 : o.steps !== undefined ? ran.length < o.steps : performance.now() < deadline);
    while (more()) {
      const step = next();
      ran.push(step);
      await sleep(step.gapMs);
      const healedAt = await inject(cluster, step, excused, skipped);
      if (healedAt !== undefined) injected[step.kind] = (injected[step.kind] ?? 0) + 1;
      answeredAt = Math.max(answeredAt, performance.now());
      // A process that died or a rendezvous gone silent fails the check below whatever happens next.
      const failed = () => cluster.unexpectedExits().length > 0 || performance.now() - answeredAt >= ANSWER_MS;
      worstRecovery = Math.max(worstRecovery, await recovery(read, () => takesWrites(cluster.http), failed));
      await check(step.n, false);
      if (violations.length) break;
    }
    filing = false;
    await filer;
    if (!violations.length) {
      // Drain: every story must settle once the faults are healed.
      const until = performance.now() + (o.drainMs ?? 240_000);
      while (performance.now() < until) {
        const stories = await read();
        if (stories && stories.every(settled)) break;
        await sleep(1_000);
      }
      await check(ran.length, true);
    }
    const final = (await readStories(cluster.http)) ?? [];
    const reverted = process.env.HUSKIES_REVERT_FIXES ?? o.env?.HUSKIES_REVERT_FIXES;
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
      replay: `${reverted ? `HUSKIES_REVERT_FIXES=${reverted} ` : ""}npm run chaos -- ${
        o.schedule ? `--schedule "${formatSchedule(ran)}"` : `--seed ${o.seed} --steps ${ran.length}`
      }`,
      ...(violations.length ? { logs: keepLogs } : {}),
    };
  } finally {
    filing = false;
    await filer;
    await cluster.stop(violations.length ? keepLogs : undefined);
  }
}

/**
 * How long after a heal until the rendezvous answers and takes writes, and the pipeline moves (a
 * story settles, or nothing is left open); capped at RECOVERY_MS — a cluster that stays stuck fails the final check —
 * and cut short by `failed` (a violation the check will report anyway).
 */
async function recovery(
  read: () => Promise<StoryState[] | undefined>,
  writable: () => Promise<boolean>,
  failed: () => boolean,
): Promise<number> {
  const t0 = performance.now();
  const before = (await read())?.filter(settled).length;
  while (performance.now() - t0 < RECOVERY_MS && !failed()) {
    const stories = await read();
    if (stories && (await writable())) {
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
    case "empty-replica": {
      // The agents are away (frozen) so the restarted rendezvous meets no one who holds the project.
      const agents = NODES.filter((n) => n !== "rendezvous").map((n) => c.procs.get(n)!);
      for (const a of agents) a.signal("SIGSTOP");
      const r = c.procs.get("rendezvous")!;
      r.expectExit();
      r.signal("SIGKILL");
      await r.exited;
      c.deleteReplica("rendezvous");
      await c.startNode("rendezvous");
      await sleep(s.holdMs);
      for (const a of agents) a.signal("SIGCONT");
      break;
    }
    case "poison-counter":
      await c.poisonCounter(POISONED_COUNTER);
      await sleep(s.holdMs);
      break;
  }
  const to = performance.now();
  if ((s.kind === "freeze" || s.kind === "kill") && target) excused.push({ node: target, from, to: to + CLAIM_GRACE_MS });
  if (s.kind === "empty-replica") for (const node of NODES) excused.push({ node, from, to: to + CLAIM_GRACE_MS });
  return to;
}
