import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import * as Y from "yjs";
import type { Item } from "../src/state/item.js";
import { PipelineDoc } from "../src/state/pipeline-doc.js";
import { SyncClient } from "../src/sync/sync-client.js";
import { SyncHub } from "../src/sync/sync-hub.js";
import { ephemeralIdentity } from "../src/trust/identity.js";
import { getJson, type LogLine } from "../test/support/cluster.js";
import { commandSlots, projectToml } from "../test/support/coders.js";
import { createProject, git } from "../test/support/git-fixture.js";
import { DEFAULT_TIMINGS } from "./bench-cluster.js";
import { heapBytesPerItem } from "./item-cost.js";
import { SoakFleet, type Role } from "./soak-fleet.js";
import { compactTimeline, judgeMemory, round1, twice, type SoakSample } from "./soak-report.js";
import type { BenchResult } from "./stats.js";

export interface SoakParams {
  minutes: number;
  agents: number;
  /** Stories kept filed and unfinished at all times. */
  live: number;
  agentRestartSecs: number;
  rendezvousRestartSecs: number;
  sampleSecs: number;
  archiveAfterSecs: number;
  /** After the run: how long the last stories get to finish. */
  drainSecs: number;
  /** Judge the RSS and descriptor goals (a run of a few minutes is all warm-up). */
  judgeMemory: boolean;
  seed: number;
}

/**
 * A coder that writes one file named after the story and commits it; like a real coding agent,
 * run again on a worktree where its work is already committed (its node was stopped between the
 * commit and the push), it finds nothing to do and succeeds.
 */
const IDEMPOTENT_COMMIT =
  'echo "done by $HUSKIES_SLOT" > "story-$HUSKIES_STORY_ID.txt" && git add -A && (git diff --cached --quiet || git commit -qm "work on $HUSKIES_STORY_ID")';

const UNFINISHED = ["backlog", "current", "qa", "merge"] as const;
const FINISHED = new Set(["done", "archived"]);

/** The parameters of a run of `minutes`: restarts every few minutes and every ten, scaled down for short runs. */
export function soakParams(minutes: number, quick = false): SoakParams {
  return {
    minutes,
    agents: 4,
    live: 8,
    agentRestartSecs: Math.max(15, Math.min(180, (minutes * 60) / 10)),
    rendezvousRestartSecs: Math.min(600, (minutes * 60) / 3),
    sampleSecs: quick ? 5 : 30,
    archiveAfterSecs: 5,
    drainSecs: quick ? 120 : 300,
    judgeMemory: minutes >= 10,
    seed: 1,
  };
}

/**
 * `npm run bench -- soak [--minutes N]`: a rendezvous and four agents (a coder and a mergemaster
 * each) for N minutes (30), stories filed as fast as they finish so that `live` are always
 * unfinished, done stories archived after seconds; a random agent restarted every few minutes
 * and the rendezvous every ten. Reports RSS, open descriptors and replica size over time, and
 * stories lost or delivered twice.
 */
export async function soak(p: SoakParams): Promise<BenchResult> {
  const project = createProject({
    projectToml: projectToml({ ...DEFAULT_TIMINGS, default_qa: "server", auto_promote: false, archive_after_secs: p.archiveAfterSecs }),
    agentsToml: commandSlots(1, IDEMPOTENT_COMMIT),
  });
  // As out of the box, the rendezvous' own checkout runs the one mergemaster (its agent is asked
  // only on a conflict, which distinct files never cause); the agents' checkouts run a coder each.
  writeFileSync(join(project.root, ".huskies", "agents.toml"), commandSlots(1, "exit 1", "mergemaster", "merge"));
  const fleet = new SoakFleet(
    project.root,
    Array.from({ length: p.agents }, (_, i) => project.clone(`agent${i + 1}`)),
  );
  const watcher = new PipelineDoc(new Y.Doc());
  let client: SyncClient | undefined;
  // The soak watches the document through a sync link of its own; an exception that escapes that
  // link's timers must not end half an hour of measurement. It is reported, and the link reconnects.
  const ownErrors: string[] = [];
  const onUncaught = (err: Error) => void ownErrors.push(`the soak's own sync link: ${err.message}`);
  process.on("uncaughtException", onUncaught);
  try {
    await fleet.start();
    client = new SyncClient({
      url: fleet.ws,
      hub: new SyncHub(watcher.doc, pino({ level: "silent" })),
      identity: ephemeralIdentity(),
      maxFrameBytes: 64 * 1024 * 1024,
      healProbe: true,
    }).start();
    const t0 = Date.now();
    const minutes = () => round1((Date.now() - t0) / 60_000);
    const acked = new Map<string, number>();
    const restarts = { agents: 0, rendezvous: 0, readyMs: [] as number[] };
    let filing = true;
    let failedPosts = 0;

    const unfinished = () => {
      const ids = new Set<string>();
      for (const s of UNFINISHED) for (const id of watcher.idsIn(s)) ids.add(id);
      for (const id of acked.keys()) if (!FINISHED.has(watcher.getItem(id)?.stage ?? "")) ids.add(id);
      return ids;
    };
    let n = 0;
    const fileLoop = (async () => {
      while (filing) {
        if (unfinished().size >= p.live) {
          await sleep(100);
          continue;
        }
        try {
          const res = await fetch(`${fleet.http}/api/stories`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: `Soak ${n++}`, stage: "current" }),
            signal: AbortSignal.timeout(10_000),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const id = ((await res.json()) as Item).id;
          acked.set(id, Date.now());
          // Wait until the watcher has it, so it counts as unfinished before the next is filed.
          const deadline = Date.now() + 5000;
          while (!watcher.getItem(id) && Date.now() < deadline) await sleep(20);
        } catch {
          failedPosts += 1;
          await sleep(250);
        }
      }
    })();

    const samples: SoakSample[] = [];
    const sample = async () => {
      const t = minutes();
      const procs = await Promise.all(fleet.roles.map(async (r) => [r.name, await fleet.sample(r)] as const));
      samples.push({ t, items: watcher.items.size, live: unfinished().size, procs: Object.fromEntries(procs) });
    };

    let rnd = p.seed;
    const random = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const restart = async (role: Role) => {
      const started = Date.now();
      await fleet.restart(role);
      restarts.readyMs.push(Date.now() - started);
    };
    const end = t0 + p.minutes * 60_000;
    let nextSample = t0;
    let nextAgent = t0 + p.agentRestartSecs * 1000;
    let nextRendezvous = t0 + p.rendezvousRestartSecs * 1000;
    const crashes: string[] = [];
    while (Date.now() < end) {
      const now = Date.now();
      const dead = fleet.roles.find((r) => r.proc && (r.proc.proc.exitCode !== null || r.proc.proc.signalCode !== null));
      if (dead) {
        // Nobody stopped it: a crash. Say how it ended, and let the soak go on with a new process.
        const last = dead.proc!.logs.slice(-3).map((l) => String(l.msg ?? "").slice(0, 200));
        crashes.push(
          `${dead.name} exited by itself at minute ${minutes()} (${dead.proc!.proc.exitCode ?? dead.proc!.proc.signalCode}): ${last.join(" | ")}`,
        );
        await restart(dead);
      } else if (now >= nextSample) {
        await sample();
        // A restart that took longer than an interval skips the readings it missed.
        while (nextSample <= Date.now()) nextSample += p.sampleSecs * 1000;
      } else if (now >= nextRendezvous && nextRendezvous < end - 1000) {
        await restart(fleet.rendezvous);
        restarts.rendezvous += 1;
        nextRendezvous += p.rendezvousRestartSecs * 1000;
      } else if (now >= nextAgent && nextAgent < end - 1000) {
        await restart(fleet.agents[Math.floor(random() * fleet.agents.length)]!);
        restarts.agents += 1;
        nextAgent += p.agentRestartSecs * 1000;
      } else {
        await sleep(Math.max(10, Math.min(nextSample, nextAgent, nextRendezvous, end) - Date.now()));
      }
    }
    await sample();
    filing = false;
    await fileLoop;
    const drainDeadline = Date.now() + p.drainSecs * 1000;
    const open = () => [...acked.keys()].filter((id) => !FINISHED.has(watcher.getItem(id)?.stage ?? "") && !watcher.getItem(id)?.blocked);
    while (open().length && Date.now() < drainDeadline) await sleep(500);
    const drainedInSecs = round1((p.drainSecs * 1000 - (drainDeadline - Date.now())) / 1000);

    const final = new Map((await getJson<Item[]>(`${fleet.http}/api/stories`)).map((i) => [i.id, i]));
    // Read as the nodes read it: signed by the rendezvous (its key is the project's operator key here).
    const heap = heapBytesPerItem(Y.encodeStateAsUpdate(watcher.doc), { operatorKeys: [fleet.rendezvous.lives[0]!.proc.nodeId] });
    await fleet.stop();

    // Delivered twice: a coder's work submitted twice, a story merged twice, two squash commits.
    const perStory = (match: (l: LogLine) => boolean, roles = fleet.roles) => {
      const m = new Map<string, number>();
      for (const role of roles)
        for (const life of role.lives)
          for (const l of life.proc.logs) if (match(l)) m.set(String(l.story), (m.get(String(l.story)) ?? 0) + 1);
      return m;
    };
    const msgIn =
      (...msgs: string[]) =>
      (l: LogLine) =>
        msgs.includes(String(l.msg));
    const submitted = twice(perStory(msgIn("story submitted to qa", "reconciled: pushed committed work and advanced")));
    const merged = twice(perStory(msgIn("merged")));
    // Not a duplicate: a coder stopped by its node's restart runs again, on that node or another.
    const rerun = twice(perStory((l) => l.msg === "agent invocation" && l.role === "coder"));
    // Squash commits on origin's base, by story: its `Huskies-Story:` trailer, else the subject's id.
    const commits = new Map<string, number>();
    for (const c of git(project.origin, "log", "--format=%s%n%b%x00", "main").split("\0")) {
      const ids = new Set([...c.matchAll(/^Huskies-Story: (\S+)$/gm)].map((m) => m[1]!));
      const subject = /^\s*(\d+_story_\w+): /.exec(c)?.[1];
      if (!ids.size && subject) ids.add(subject);
      for (const id of ids) commits.set(id, (commits.get(id) ?? 0) + 1);
    }
    const squashedTwice = twice(commits);
    const lost = [...acked.keys()].filter((id) => !final.has(id) || (!FINISHED.has(final.get(id)!.stage) && !final.get(id)!.blocked));
    const blocked = [...acked.keys()].filter((id) => final.get(id)?.blocked);
    const finished = [...acked.keys()].filter((id) => FINISHED.has(final.get(id)?.stage ?? ""));
    const unmerged = finished.filter((id) => !commits.has(id));
    const duplicates = [...new Set([...submitted, ...merged, ...squashedTwice])];

    const memory = judgeMemory(samples, { referenceMin: p.minutes / 6, endMin: p.minutes, heapBytesPerItem: heap.perItem });
    const failures = [
      ...(lost.length ? [`${lost.length} stories lost: ${lost.slice(0, 5).join(", ")}`] : []),
      ...(blocked.length
        ? [
            `${blocked.length} stories blocked: ${blocked
              .slice(0, 3)
              .map((id) => `${id} (${final.get(id)!.blocked}; ${final.get(id)!.failure ?? ""})`)
              .join(", ")}`,
          ]
        : []),
      ...(duplicates.length ? [`${duplicates.length} stories delivered twice: ${duplicates.slice(0, 5).join(", ")}`] : []),
      ...(unmerged.length ? [`${unmerged.length} done stories without a squash commit on main: ${unmerged.slice(0, 5).join(", ")}`] : []),
      ...crashes,
      ...(restarts.agents + restarts.rendezvous === 0 ? ["nothing was restarted"] : []),
      ...(!memory ? ["too few samples to compare"] : []),
      ...(p.judgeMemory && memory
        ? Object.entries(memory.roles).flatMap(([name, v]) => [
            ...(v.rssOk ? [] : [`${name}: RSS ${v.rssMb[0]} → ${v.rssMb[1]} MB (allowance ${v.allowanceMb} MB)`]),
            ...(v.fdsOk ? [] : [`${name}: descriptors ${v.fds[0]} → ${v.fds[1]}`]),
          ])
        : []),
    ];
    // Seen on the way, not part of the goal: stories that ended blocked, with why.
    const findings = [
      ...blocked.map((id) => `${id} blocked: ${final.get(id)!.blocked}; ${JSON.stringify(final.get(id)!.failure ?? null)}`),
      ...ownErrors,
    ];
    const lives = samples.map((s) => s.live).filter((v) => v > 0);
    return {
      bench: "soak",
      params: { ...p },
      results: {
        filed: acked.size,
        finished: finished.length,
        storiesPerMinute: round1(finished.length / p.minutes),
        lost: lost.length,
        blocked: blocked.length,
        duplicates: duplicates.length,
        rerunAfterRestart: rerun.length,
        live: { min: Math.min(...lives), max: Math.max(...lives), target: p.live },
        failedPosts,
        drainedInSecs,
        restarts: { ...restarts, readyMs: { max: Math.max(0, ...restarts.readyMs), n: restarts.readyMs.length } },
        items: watcher.items.size,
        heapBytesPerItem: heap.perItem,
        memory,
        memoryJudged: p.judgeMemory,
        findings,
        timeline: compactTimeline(samples),
      },
      ok: failures.length === 0,
      failures,
    };
  } finally {
    process.off("uncaughtException", onUncaught);
    client?.stop();
    await fleet.stop();
    project.cleanup();
  }
}
