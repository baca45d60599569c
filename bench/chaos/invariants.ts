/**
 * The invariants of the chaos run (issue 25), as pure functions of what the run observed, so a
 * planted violation can be fed to them in a unit test and each check shown able to fail.
 */

/** One job as the node's log tells it: started, and finished (or ended by its process's exit). */
export interface JobSpan {
  story: string;
  role: string;
  /** The process instance that ran it (a restarted node is a new holder). */
  holder: string;
  /** The node (by name) it ran on, to match fault windows. */
  node: string;
  start: number;
  /** Undefined while still running. */
  end: number | undefined;
}

/** A time a node could not see or act on the document (frozen, killed): its claims lapse by design. */
export interface Excused {
  node: string;
  from: number;
  to: number;
}

export interface StoryState {
  id: string;
  stage: string;
  blocked: string | null;
  failure?: { kind?: unknown; message?: unknown } | string;
}

export interface Observation {
  /** Ids of creates the rendezvous answered 2xx. */
  acknowledged: readonly string[];
  /** The document as read now (undefined: it could not be read, which is checked elsewhere). */
  stories: readonly StoryState[] | undefined;
  jobs: readonly JobSpan[];
  excused: readonly Excused[];
  /** `Huskies-Story` trailers of origin's main, one entry per commit. */
  mergedTrailers: readonly string[];
  /** Processes that exited without the schedule ending them. */
  unexpectedExits: readonly { node: string; code: number | null; signal: string | null }[];
  /** Job start times by story and role (ms). */
  starts: readonly { story: string; role: string; node: string; at: number }[];
  /** Log bytes per process per minute. */
  logBytesPerMinute: readonly { node: string; minute: number; bytes: number }[];
  /** `final`: faults are healed and the run has drained, so every story must have settled. */
  final: boolean;
}

export interface Violation {
  invariant: string;
  detail: string;
}

/** Overlap shorter than this is the same job seen at slightly different receipt times. */
const OVERLAP_SLACK_MS = 1_000;
/** Bounded cost: at most one job start per story and role in this window. */
export const START_WINDOW_MS = 5_000;
/**
 * Starts are read as the harness receives their log lines, and a loaded machine delivers one
 * line later than the next: the breaker's 5 s gap was seen as 4.97 s. A spinning node starts a
 * story many times a second, far inside any slack; a quarter second keeps the check honest.
 */
const START_RECEIPT_SLACK_MS = 250;
export const LOG_BYTES_PER_MINUTE_MAX = 1024 * 1024;

export function lostCreates(o: Observation): Violation[] {
  if (!o.stories) return [];
  const have = new Set(o.stories.map((s) => s.id));
  return o.acknowledged
    .filter((id) => !have.has(id))
    .map((id) => ({ invariant: "acknowledged-create-kept", detail: `${id} was acknowledged (2xx) and is not in the document` }));
}

/** Length of `[a, b]` not covered by any of `windows`. */
function uncovered(a: number, b: number, windows: readonly [number, number][]): number {
  let left = 0;
  let cursor = a;
  for (const [f, t] of [...windows].sort((x, y) => x[0] - y[0])) {
    if (t <= cursor) continue;
    if (f >= b) break;
    if (f > cursor) left += f - cursor;
    cursor = Math.max(cursor, t);
    if (cursor >= b) break;
  }
  if (cursor < b) left += b - cursor;
  return left;
}

/**
 * No story is worked by two holders in one stage at once — outside the time one of them could
 * not act (frozen, killed, plus the grace it needs to read that its claim lapsed).
 */
export function doubleHolders(o: Observation, now: number): Violation[] {
  const out: Violation[] = [];
  const byKey = new Map<string, JobSpan[]>();
  for (const j of o.jobs) byKey.set(`${j.story}/${j.role}`, [...(byKey.get(`${j.story}/${j.role}`) ?? []), j]);
  for (const [key, spans] of byKey) {
    for (let i = 0; i < spans.length; i++)
      for (let k = i + 1; k < spans.length; k++) {
        const a = spans[i]!;
        const b = spans[k]!;
        if (a.holder === b.holder) continue;
        const from = Math.max(a.start, b.start);
        const to = Math.min(a.end ?? now, b.end ?? now);
        if (to - from <= OVERLAP_SLACK_MS) continue;
        const windows = o.excused.filter((e) => e.node === a.node || e.node === b.node).map((e): [number, number] => [e.from, e.to]);
        const left = uncovered(from, to, windows);
        if (left > OVERLAP_SLACK_MS)
          out.push({
            invariant: "one-holder-per-stage",
            detail: `${key} ran on ${a.holder} and ${b.holder} at once for ${Math.round(left)} ms`,
          });
      }
  }
  return out;
}

export function mergedTwice(o: Observation): Violation[] {
  const count = new Map<string, number>();
  for (const t of o.mergedTrailers) count.set(t, (count.get(t) ?? 0) + 1);
  return [...count]
    .filter(([, n]) => n > 1)
    .map(([id, n]) => ({ invariant: "merged-once", detail: `${id} was merged ${n} times (Huskies-Story trailers on origin's main)` }));
}

function failureKind(f: StoryState["failure"]): string | undefined {
  if (!f || typeof f === "string") return undefined;
  return typeof f.kind === "string" && f.kind ? f.kind : undefined;
}

/** At the end, every story is done, or blocked with a failure kind (the story's own reason). */
export function unsettled(o: Observation): Violation[] {
  if (!o.final || !o.stories) return [];
  const out: Violation[] = [];
  for (const s of o.stories) {
    if (s.stage === "done" || s.stage === "archived") continue;
    if (s.blocked && failureKind(s.failure)) continue;
    out.push({
      invariant: "settled",
      detail: s.blocked
        ? `${s.id} is blocked without a failure.kind (${s.blocked})`
        : `${s.id} ended in ${s.stage}, neither done nor blocked`,
    });
  }
  return out;
}

export function exits(o: Observation): Violation[] {
  return o.unexpectedExits.map((e) => ({
    invariant: "no-unexpected-exit",
    detail: `${e.node} exited (${e.code ?? e.signal}) without the schedule ending it`,
  }));
}

/**
 * Bounded cost. "At most one job start per story per 5 s" is read per node: a node that starts
 * the same story again within 5 s is spinning (the full-disk bug: 25 000 starts a second). A
 * story handed at once to the next node when one node fails (origin down for that node) is the
 * documented failover, and is bounded by the number of nodes.
 */
export function cost(o: Observation): Violation[] {
  const out: Violation[] = [];
  const byKey = new Map<string, number[]>();
  for (const s of o.starts) {
    const key = `${s.story}/${s.role} on ${s.node}`;
    byKey.set(key, [...(byKey.get(key) ?? []), s.at]);
  }
  for (const [key, times] of byKey) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++)
      if (times[i]! - times[i - 1]! < START_WINDOW_MS - START_RECEIPT_SLACK_MS) {
        out.push({ invariant: "bounded-starts", detail: `${key} started twice within ${Math.round(times[i]! - times[i - 1]!)} ms` });
        break;
      }
  }
  for (const l of o.logBytesPerMinute)
    if (l.bytes > LOG_BYTES_PER_MINUTE_MAX)
      out.push({ invariant: "bounded-log", detail: `${l.node} logged ${l.bytes} bytes in minute ${l.minute}` });
  return out;
}

/** Every invariant, in a stable order. */
export function checkAll(o: Observation, now: number): Violation[] {
  return [...lostCreates(o), ...doubleHolders(o, now), ...mergedTwice(o), ...unsettled(o), ...exits(o), ...cost(o)];
}
