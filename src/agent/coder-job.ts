import { runGatesChecked } from "../git/gate-check.js";
import { GitError } from "../git/git.js";
import { ensureWorktree, pushBranch, worktreeCommitsAhead } from "../git/worktree.js";
import { isNodeTrouble, type NodeTrouble } from "../pipeline/node-trouble.js";
import { classifyPushError } from "../pipeline/push-outcome.js";
import type { RunResult } from "../runtime/agent-runtime.js";
import type { CoderSession, Failure, Item } from "../state/item.js";
import { advanceFromCurrent } from "./advance.js";
import { prepareRound, roundProblem, type RoundPlan } from "./conflict-round.js";
import { StoryJob } from "./story-job.js";
import { reviewReason } from "../pipeline/review.js";

type Checked = { ahead: number } | { failure: Failure } | { trouble: NodeTrouble };

/**
 * A coder on an item in `current`: worktree → agent → gates → at least one commit → push →
 * `qa` (and straight on to `merge` under server QA). Failures are fed back into the next
 * attempt's prompt until `max_retries`, then the item is blocked. Trouble of the machine (a
 * vanished worktree, a full disk, an unreachable origin) is the node's: the claim goes back
 * untouched and the node pauses (rule 2).
 *
 * A conflict round (issue 29.1: the story's squash conflicted with the base) runs the same way with
 * the round's instructions, resuming the session that wrote the code when it is this node's; the
 * result must contain the base (merged, never rebased) and no conflict markers before it is pushed.
 */
export class CoderJob extends StoryJob {
  async work(): Promise<void> {
    const item = this.item();
    if (!item) return;
    const worktree = await ensureWorktree(this.ctx.root, this.storyId, this.ctx.baseBranch, {
      fetch: !!item.branch,
      pool: this.ctx.worktrees,
      onCleaned: (what) => this.cleaned(what),
    });
    // The last reason it failed or was sent back (QA findings, a conflict, an operator's review
    // comment); cleared when work passes to qa, so nothing stale is fed back. A node's own
    // trouble (not logged in, a limit) is not the story's and is not fed back.
    const nodes = item.lastRun?.outcome === "node_failure" || item.failure?.kind === "node_trouble";
    const round = onRound(item) ? await prepareRound(item, worktree, this.roundOpts()) : undefined;
    if (round)
      this.note("info", `conflict round ${round.recorded.round}: base ${round.commit.slice(0, 12)} fetched as ${round.run.conflict.ref}`);
    // A round says everything in its own instructions; the conflict text is not fed back twice.
    let feedback = nodes || round ? undefined : item.failure?.message;
    // Line comments stay in every attempt's prompt until the work passes to qa again. While the
    // review is the latest send-back (no failure since), it is the feedback, and the first run
    // continues the session that wrote the reviewed work when this node still has it.
    const review = item.review;
    const fresh = !!review && item.failure?.kind === "rework" && item.failure.message === reviewReason(review);
    if (fresh) feedback = undefined;
    let first = true;
    while (this.stillMine()) {
      const result = await this.runAgent(worktree, feedback, { review: review && { review, resume: first && fresh }, round: round?.run });
      first = false;
      if (!this.stillMine()) return;
      const lastRun = this.lastRun(result);
      const checked = await this.check(worktree, result, round);
      if ("trouble" in checked) return this.nodeTrouble(checked.trouble, { lastRun });
      if ("ahead" in checked) {
        const coderSession: CoderSession = {
          node: this.ctx.nodeId,
          slot: this.slot.name,
          runtime: this.slot.runtime,
          ...(lastRun.sessionId ? { sessionId: lastRun.sessionId } : {}),
        };
        if (advanceFromCurrent(this.ctx, this.token, checked.ahead, { branch: this.branch, lastRun, coderSession })) {
          this.ctx.log.info({ story: this.storyId, node: this.ctx.nodeId, conflictRound: round?.recorded.round }, "story submitted to qa");
        }
        return;
      }
      const failure = result.budget ? { ...checked.failure, kind: "budget" as const } : checked.failure;
      if (!this.attemptFailed(failure, { patch: { lastRun } })) return;
      feedback = checked.failure.message;
      // The same session carries on with what went wrong (its round instructions are in its history).
      if (round) round.run = { ...round.run, prompt: `The conflict round is not finished:\n\n${feedback}`, resume: lastRun.sessionId };
    }
  }

  private roundOpts() {
    return { nodeId: this.ctx.nodeId, slot: this.slot, baseBranch: this.ctx.baseBranch };
  }

  /** The commits pushed when the attempt is good; the machine's trouble; otherwise the reason it is not good. */
  private async check(worktree: string, run: RunResult, round?: RoundPlan): Promise<Checked> {
    // Judged by what is true before the story is blamed: the worktree is there, the disk not full.
    const before = run.ok ? this.missingWorktree(worktree) : this.machineTrouble(worktree, run.error);
    if (before) return { trouble: before };
    if (!run.ok)
      return {
        failure: { kind: run.reason === "budget exhausted" ? "budget" : "runtime", message: `the coding agent failed: ${run.error}` },
      };
    const unresolved = round ? await roundProblem(worktree, round) : undefined;
    if (unresolved) return { failure: unresolved };
    const gates = await runGatesChecked(this.gateRun(worktree, this.branch), this.ctx.config.project.gates.commands);
    if (!gates.ok) {
      const trouble = this.machineTrouble(worktree, gates.output);
      return trouble ? { trouble } : { failure: { kind: "gates", message: gates.output } };
    }
    const ahead = await worktreeCommitsAhead(worktree, this.ctx.baseBranch);
    if (ahead === 0) return { failure: { kind: "no_commits", message: `no commits on ${this.branch}: commit your work with git` } };
    if (!this.stillMine()) return { failure: { kind: "lost", message: "claim lost" } };
    // The push is the last step and rarely fails: ask for the next item while it runs.
    this.setFinishing(true);
    let replaced: string | undefined;
    try {
      // Just checked: the claim is this node's, so the branch is too (an earlier holder's tip is replaced).
      ({ replaced } = await pushBranch(worktree, this.branch, { supersede: true }));
    } catch (err) {
      this.setFinishing(false);
      const trouble = isNodeTrouble(err);
      if (trouble) return { trouble };
      const refusal = err instanceof GitError ? classifyPushError(err.stderr) : { kind: "other" as const };
      const message =
        refusal.kind === "refused"
          ? `origin refused the push of ${this.branch}:\n${refusal.message}`
          : `push of ${this.branch} was rejected: ${(err as Error).message}`;
      return { failure: { kind: "push_rejected", message } };
    }
    if (replaced) this.ctx.log.info({ story: this.storyId, replaced }, "replaced the branch tip an earlier holder left");
    this.note(
      "info",
      replaced ? `pushed ${this.branch}, replacing ${replaced.slice(0, 12)} an earlier holder left` : `pushed ${this.branch}`,
    );
    return { ahead };
  }
}

/** The item is back from `merge` on an open conflict round. */
function onRound(item: Item): item is Item & { conflict: NonNullable<Item["conflict"]> } {
  return item.stage === "current" && !!item.conflict;
}
