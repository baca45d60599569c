import type { AgentSlot } from "../config/agents-config.js";
import { committedConflictMarkers, contains, prepareRoundBase, roundBaseRef } from "../git/round-base.js";
import { conflictPrompt } from "../runtime/prompt.js";
import type { ConflictRound, Failure, Item } from "../state/item.js";
import type { RoundRun } from "./story-job.js";

/** A conflict round as the coder job runs it: the run's instructions and the commit it must integrate. */
export interface RoundPlan {
  run: RoundRun;
  /** The base commit the ref names; the result must contain it (and the recorded one). */
  commit: string;
  recorded: ConflictRound;
}

/**
 * Get a conflict round ready in the story's worktree (issue 29.1): origin's newest base fetched
 * into `huskies/base/<id>`, the branch brought up to origin's, and the session that wrote the code
 * resumed when it is this node's and this slot runs the same runtime (another node starts a fresh
 * session from the pushed branch, with the story's prompt and the round's instructions).
 */
export async function prepareRound(
  item: Item & { conflict: ConflictRound },
  worktree: string,
  opts: { nodeId: string; slot: AgentSlot; baseBranch: string },
): Promise<RoundPlan> {
  const round = item.conflict;
  const commit = await prepareRoundBase(worktree, opts.baseBranch, item.id, round.base);
  const ref = roundBaseRef(item.id);
  const s = item.coderSession;
  const resume = s && s.node === opts.nodeId && s.runtime === opts.slot.runtime ? s.sessionId : undefined;
  const prompt = conflictPrompt({
    story_id: item.id,
    base_branch: opts.baseBranch,
    round: round.round,
    ref,
    commit,
    files: round.files,
    stories: round.stories,
  });
  return { run: { prompt, conflict: { round: round.round, ref }, ...(resume ? { resume } : {}) }, commit, recorded: round };
}

/** What is wrong with the worktree after a round's run, or undefined when the base is integrated cleanly. */
export async function roundProblem(worktree: string, plan: RoundPlan): Promise<Failure | undefined> {
  const ref = plan.run.conflict.ref;
  for (const commit of new Set([plan.recorded.base, plan.commit])) {
    if (!(await contains(worktree, "HEAD", commit)))
      return {
        kind: "conflict",
        message: `the branch does not contain the base ${commit.slice(0, 12)}: merge it with \`git merge ${ref}\` (no rebase), resolve the conflicts and commit the merge`,
      };
  }
  const markers = await committedConflictMarkers(worktree);
  if (markers.length)
    return {
      kind: "conflict",
      message: `conflict markers are still committed in: ${markers.slice(0, 20).join(", ")}; resolve them (keep both sides' intent) and commit`,
    };
  return undefined;
}
