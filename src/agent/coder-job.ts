import { runGates } from "../git/gates.js";
import type { Failure } from "../state/item.js";
import { ensureWorktree, pushBranch, worktreeCommitsAhead } from "../git/worktree.js";
import { advanceFromCurrent } from "./advance.js";
import { StoryJob } from "./story-job.js";

/**
 * A coder on an item in `current`: worktree → agent → gates → at least one commit → push →
 * `qa` (and straight on to `merge` under server QA). Failures are fed back into the next
 * attempt's prompt until `max_retries`, then the item is blocked.
 */
export class CoderJob extends StoryJob {
  async work(): Promise<void> {
    const item = this.item();
    if (!item) return;
    const worktree = await ensureWorktree(this.ctx.root, this.storyId, this.ctx.baseBranch, {
      fetch: !!item.branch,
      pool: this.ctx.worktrees,
    });
    // The last reason it failed or was sent back (QA findings, a conflict, an operator's review
    // comment); cleared when work passes to qa, so nothing stale is fed back. A node's own
    // trouble (not logged in, a limit) is not the story's and is not fed back.
    let feedback = item.lastRun?.outcome === "node_failure" ? undefined : item.failure?.message;
    while (this.stillMine()) {
      const result = await this.runAgent(worktree, feedback);
      if (!this.stillMine()) return;
      const lastRun = this.lastRun(result);
      const checked = await this.check(worktree, result.ok ? undefined : result.error);
      if ("ahead" in checked) {
        if (advanceFromCurrent(this.ctx, this.token, checked.ahead, { branch: this.branch, lastRun })) {
          this.ctx.log.info({ story: this.storyId, node: this.ctx.nodeId }, "story submitted to qa");
        }
        return;
      }
      if (!this.attemptFailed(checked.failure, { patch: { lastRun } })) return;
      feedback = checked.failure.message;
    }
  }

  /** The commits pushed when the attempt is good; otherwise the reason it is not. */
  private async check(worktree: string, runError: string | undefined): Promise<{ ahead: number } | { failure: Failure }> {
    if (runError) return { failure: { kind: "runtime", message: `the coding agent failed: ${runError}` } };
    const gates = await runGates(worktree, this.ctx.config.project.gates.commands);
    if (!gates.ok) return { failure: { kind: "gates", message: gates.output } };
    const ahead = await worktreeCommitsAhead(worktree, this.ctx.baseBranch);
    if (ahead === 0) return { failure: { kind: "no_commits", message: `no commits on ${this.branch}: commit your work with git` } };
    if (!this.stillMine()) return { failure: { kind: "lost", message: "claim lost" } };
    // The push is the last step and rarely fails: ask for the next item while it runs.
    this.setFinishing(true);
    try {
      await pushBranch(worktree, this.branch);
    } catch (err) {
      this.setFinishing(false);
      return { failure: { kind: "push_rejected", message: `push of ${this.branch} was rejected: ${(err as Error).message}` } };
    }
    this.note("info", `pushed ${this.branch}`);
    return { ahead };
  }
}
