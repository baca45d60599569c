import { specsOverlap, type FileSpec } from "./touches.js";

/**
 * Which queued stories a mergemaster may take now (issue 29.3). Pure: the rendezvous feeds it the
 * queue in order (see merge-queue.ts) with what it knows of each story's files.
 */

export interface Queued {
  id: string;
  /** Back with its coder on a conflict round (in `current`): it keeps its place, but cannot merge now. */
  onRound: boolean;
  /** A mergemaster holds it now (a live claim in `merge`). */
  merging: boolean;
  /** What its pushed branch changed and what it declared; undefined while not known yet. */
  spec: FileSpec | undefined;
}

export interface MergeDecision {
  /** Stories to grant, in queue order (one, or up to `[merge] batch`). */
  grant: string[];
  /** Stories held back, with the story on a conflict round ahead of them they overlap and where. */
  held: Array<{ id: string; story: string; path: string }>;
}

/**
 * Nothing while a merge is in progress (merges land one after another on one base; a second one
 * at once would only lose the push race). Otherwise up to `batch` stories from the head of the
 * queue, in order, skipping any that overlaps a story ahead of it that is out on a conflict round:
 * merged now, that story would conflict again when the other lands, and so would need a second
 * round. A story whose files are not known yet waits only while such a round is open ahead.
 */
export function nextMerges(queue: readonly Queued[], batch: number): MergeDecision {
  const out: MergeDecision = { grant: [], held: [] };
  const busy = queue.some((q) => q.merging);
  const rounds: Queued[] = [];
  for (const q of queue) {
    if (q.onRound) {
      rounds.push(q);
      continue;
    }
    if (q.merging) continue;
    const overlap = rounds.length ? heldBy(q, rounds) : undefined;
    if (overlap) out.held.push({ id: q.id, ...overlap });
    else if (!busy && out.grant.length < batch && (q.spec || rounds.length === 0)) out.grant.push(q.id);
  }
  return out;
}

/** The first story on a conflict round (ahead in the queue) that `q` overlaps, and where. */
function heldBy(q: Queued, rounds: readonly Queued[]): { story: string; path: string } | undefined {
  if (!q.spec) return undefined;
  for (const r of rounds) {
    const path = r.spec ? specsOverlap(q.spec, r.spec) : undefined;
    if (path) return { story: r.id, path };
  }
  return undefined;
}
