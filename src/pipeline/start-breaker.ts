/**
 * The job-start breaker (rule 2): a failing step is never restarted in a loop. A story's step
 * (its stage) starts at most once per `minMs` on a node; after failed jobs in a row the gap
 * doubles up to `maxMs`. After a failed job the whole story waits the same gap on that node,
 * whichever step comes next (a merge that fails and sends the story back to its coder is a loop
 * too); after a good one the next step starts at once (a coder's push, then the merge).
 * Pure: the work loop keeps the records and asks.
 */

export interface StartRecord {
  /** When the step last started on this node (ms). */
  lastStart: number;
  /** Jobs of this step that failed in a row (0 after one that did not). */
  failuresInARow: number;
}

export interface BreakerTimings {
  minMs: number;
  maxMs: number;
}

/** The gap required after the last start, given the failures in a row. */
export function startGap(failuresInARow: number, t: BreakerTimings): number {
  return Math.min(t.maxMs, t.minMs * 2 ** Math.max(0, failuresInARow - 1));
}

/** How long to wait before the step may start again (0: now). */
export function startDelay(rec: StartRecord | undefined, now: number, t: BreakerTimings): number {
  if (!rec) return 0;
  return Math.max(0, rec.lastStart + startGap(rec.failuresInARow, t) - now);
}

/** The wait a story's own record imposes: only after a failed job (see above). */
export function storyDelay(rec: StartRecord | undefined, now: number, t: BreakerTimings): number {
  return rec && rec.failuresInARow > 0 ? startDelay(rec, now, t) : 0;
}

export function recordStart(rec: StartRecord | undefined, now: number): StartRecord {
  return { lastStart: now, failuresInARow: rec?.failuresInARow ?? 0 };
}

export function recordEnd(rec: StartRecord, failed: boolean): StartRecord {
  return { ...rec, failuresInARow: failed ? rec.failuresInARow + 1 : 0 };
}

/** The key a record is kept under: one story's step (a coder and a merge of one story are two steps). */
export function stepKey(storyId: string, stage: string): string {
  return `${stage}:${storyId}`;
}
