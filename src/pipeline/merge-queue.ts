import type { Stage } from "./stages.js";

/**
 * The merge queue (issue 29.3): stories merge in a visible order. The order is the time each first
 * entered `merge` (`queuedAt`, else `stageAt`), kept across conflict rounds, so a story that went
 * back to its coder to integrate the base keeps its place rather than going to the back.
 *
 * Pure, and free of runtime imports, so the board and `huskies status` show exactly what the
 * rendezvous grants by.
 */

/** What the mergemaster holding a story is doing (written on the item as it goes). */
export const MERGE_STEPS = ["squashing", "rebasing", "resolving", "gates", "pushing"] as const;
export type MergeStep = (typeof MERGE_STEPS)[number];

export function isMergeStep(v: unknown): v is MergeStep {
  return typeof v === "string" && (MERGE_STEPS as readonly string[]).includes(v);
}

/** The fields of an item the queue reads. */
export interface QueueItem {
  id: string;
  stage: Stage;
  blocked: string | null;
  stageAt: number;
  queuedAt?: number;
  claim: { node: string } | null;
  mergeStep?: MergeStep;
  conflict?: { round: number };
  overlaps?: { story: string; path: string };
}

/** Whether the item is in the queue: in `merge`, or back with its coder on a conflict round; not blocked. */
export function inMergeQueue(i: QueueItem): boolean {
  if (i.blocked) return false;
  return i.stage === "merge" || (i.stage === "current" && !!i.conflict);
}

/** Where the item stands in the queue: when it first entered `merge`. */
export function queueKey(i: QueueItem): number {
  return i.queuedAt ?? i.stageAt;
}

function number(id: string): number {
  return Number.parseInt(id, 10) || 0;
}

/** Queue order: earlier first, then the lower story number. */
export function compareQueue(a: QueueItem, b: QueueItem): number {
  return queueKey(a) - queueKey(b) || number(a.id) - number(b.id);
}

/** The queue, in order. */
export function mergeQueue<T extends QueueItem>(items: readonly T[]): T[] {
  return items.filter(inMergeQueue).sort(compareQueue);
}

const STEP_TEXT: Record<MergeStep, string> = {
  squashing: "squashing onto the base",
  rebasing: "rebasing (git alone, with rerere)",
  resolving: "resolving (mergemaster agent)",
  gates: "gates",
  pushing: "pushing",
};

/** The step of a queued item as a person reads it: "pushing", "conflict round 2", "waiting", … */
export function queueStep(i: QueueItem): string {
  if (i.stage === "current" && i.conflict) return `conflict round ${i.conflict.round}${i.claim ? "" : " (waiting for its coder)"}`;
  if (i.claim) return i.mergeStep ? STEP_TEXT[i.mergeStep] : "starting";
  if (i.overlaps) return `waiting: overlaps ${i.overlaps.story} on ${i.overlaps.path}`;
  return "waiting";
}

export interface QueueEntry {
  id: string;
  position: number;
  step: string;
  holder?: string;
}

/** The queue as people see it (board, `huskies status`): position, step, holder. */
export function queueView(items: readonly QueueItem[]): QueueEntry[] {
  return mergeQueue(items).map((i, n) => ({
    id: i.id,
    position: n + 1,
    step: queueStep(i),
    ...(i.claim ? { holder: i.claim.node } : {}),
  }));
}
