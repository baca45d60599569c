import { isNodeAlive, type NodeView } from "./claim-rules.js";

/**
 * Conflict rounds (issue 29.1), as pure rules. A squash onto the latest base that conflicts, and
 * that git alone cannot fix, goes back to the session that wrote the code: a conflict round, counted
 * apart from `retries` (it is integration, not a failed attempt) and bounded by
 * `max_conflict_rounds`, past which the story is blocked with `failure.kind = "conflict"`.
 */

export type ConflictVerdict = { round: number } | { blocked: string };

/** What to do with the story's next conflict, given the rounds it already had. */
export function conflictVerdict(roundsSoFar: number, maxRounds: number): ConflictVerdict {
  if (roundsSoFar >= maxRounds)
    return {
      blocked:
        maxRounds === 0
          ? "conflicts with the base (max_conflict_rounds = 0: conflicts are not sent back)"
          : `still conflicts with the base after ${roundsSoFar} conflict round${roundsSoFar === 1 ? "" : "s"} (max_conflict_rounds = ${maxRounds})`,
    };
  return { round: roundsSoFar + 1 };
}

export interface RoundItem {
  stage: string;
  stageAt: number;
  conflict?: { round: number };
  coderSession?: { node: string };
}

export interface AffinityTimings {
  nodeAliveMs: number;
  /** `conflict_affinity_secs` in ms: how long a round waits for its author node at most. */
  affinityMs: number;
}

/**
 * The node an open conflict round waits for: the one whose session wrote the code, while it is
 * alive, unpaused, has a coder slot, and the round has waited less than `affinityMs`. Undefined:
 * anyone may take it (and starts from the pushed branch, with the conflict in its prompt).
 */
export function reservedFor(
  item: RoundItem,
  node: (id: string) => (NodeView & { paused?: unknown }) | undefined,
  now: number,
  t: AffinityTimings,
): string | undefined {
  if (item.stage !== "current" || !item.conflict || !item.coderSession) return undefined;
  if (now - item.stageAt >= t.affinityMs) return undefined;
  const author = node(item.coderSession.node);
  if (!author || !isNodeAlive(author, now, t.nodeAliveMs) || author.paused || !((author.capacity?.coder ?? 0) > 0)) return undefined;
  return author.id;
}
