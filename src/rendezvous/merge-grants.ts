import { hashWinner, hasSlotFor } from "../pipeline/claim-rules.js";
import { mergeQueue } from "../pipeline/merge-queue.js";
import { nextMerges, type Queued } from "../pipeline/merge-order.js";
import type { FileSpec } from "../pipeline/touches.js";
import type { ClaimView } from "../state/claim-view.js";
import type { Claims } from "../state/claims.js";
import type { Item } from "../state/item.js";
import type { CollisionAvoidance, FilesOf } from "./collision-avoidance.js";

/**
 * The merge queue's grants (issue 29.3): mergemasters ask for work in `merge`; the queue decides
 * what they get. One merge (or one batch) at a time, from the head of the queue, skipping stories
 * that would conflict again with a story ahead of them that is out on a conflict round (see
 * merge-order.ts). Returns the node granted to, if any.
 */
export function grantMerges(
  claims: Claims,
  view: ClaimView,
  opts: { files: FilesOf; batch: number; avoid: CollisionAvoidance; idle: ReadonlySet<string>; now: number },
): string[] {
  const pipeline = claims.pipeline;
  const queue = mergeQueue(pipeline.listItemsIn(["current", "merge"]));
  const askers = new Set<string>();
  for (const i of queue)
    if (i.stage === "merge")
      for (const r of Object.keys(i.requests)) if (view.alive(r) && hasSlotFor(view.nodes.get(r)?.capacity, "merge")) askers.add(r);
  const entries: Queued[] = queue.map((i) => ({
    id: i.id,
    onRound: i.stage === "current",
    merging: i.stage === "merge" && view.live(i),
    spec: knownSpec(i, opts.files),
  }));
  const decision = nextMerges(entries, opts.batch);
  const held = new Map(decision.held.map((h) => [h.id, h]));
  for (const i of queue) {
    if (i.stage !== "merge" || view.live(i)) continue;
    const h = held.get(i.id);
    opts.avoid.note(i, h ? { story: h.story, path: h.path } : undefined);
  }
  if (!decision.grant.length || !askers.size) return [];
  // An idle mergemaster before one that is asking ahead; then the claim hash, as for any grant.
  const idle = [...askers].filter((a) => opts.idle.has(a));
  const winner = hashWinner(idle.length ? idle : [...askers], decision.grant[0]!)!;
  for (const id of decision.grant) claims.grant(id, winner, opts.now);
  return [winner];
}

/** What is known of a queued story's files: undefined until its branch was read (see touched-files.ts). */
function knownSpec(i: Item, files: FilesOf): FileSpec | undefined {
  const paths = files(i.id);
  if (paths) return { paths, globs: i.touches ?? [] };
  return i.touches?.length ? { paths: [], globs: i.touches } : undefined;
}
