import type { ClaimToken } from "../state/claims.js";
import type { ItemPatch } from "../state/item.js";
import type { JobContext } from "./job-context.js";

/**
 * Hand finished, pushed work from `current` on: to `qa`, and under server QA straight on to
 * `merge` (the gates already passed in the worktree: that is the server's QA). Two writes, so the
 * `qa` stage stays visible in the history. Shared by the coder job and restart reconcile.
 * Returns false when the token was stale (nothing written).
 */
export function advanceFromCurrent(ctx: JobContext, token: ClaimToken, ahead: number, patch: ItemPatch = {}): boolean {
  // Work passed its gates: the failure, the review and the node-trouble record of earlier attempts
  // are history, and so is an open conflict round. A story back from a round keeps its place in the
  // merge queue; any other entry into it queues at the end (see merge-queue.ts).
  const onRound = !!ctx.pipeline.getItem(token.id)?.conflict;
  const cleared: ItemPatch = {
    failure: undefined,
    troubledNodes: undefined,
    review: undefined,
    conflict: undefined,
    overlaps: undefined,
    ...(onRound ? {} : { queuedAt: undefined }),
  };
  if (!ctx.claims.moveAs(token, "qa", { actor: "coder" }, { ...patch, ...cleared })) return false;
  const qa = ctx.pipeline.getItem(token.id)?.qa ?? ctx.config.project.default_qa;
  if (qa === "server") ctx.claims.moveOnAs(token, "qa", "merge", { actor: "system", commitsAhead: ahead });
  return true;
}
