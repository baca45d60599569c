import { runGates } from "../git/gates.js";
import { ensureWorktree, pushBranch, worktreeCommitsAhead } from "../git/worktree.js";
import { StoryJob } from "./story-job.js";

/**
 * A coder on an item in `current`: worktree → agent → gates → at least one commit → push →
 * `qa` (and straight on to `merge` under server QA). Failures are fed back into the next
 * attempt's prompt until `max_retries`, then the item is blocked.
 */
export class CoderJob extends StoryJob {
  async work(): Promise<void> {
    const worktree = await ensureWorktree(this.ctx.root, this.storyId, this.ctx.baseBranch, { fetch: !!this.item()?.branch });
    let feedback = this.item()?.retries ? this.item()?.failure : undefined;
    for (;;) {
      if (!this.stillMine()) return;
      const result = await this.runAgent(worktree, feedback);
      if (!this.stillMine()) return;
      const lastRun = this.lastRun(result);
      const failure = await this.check(worktree, result.ok ? undefined : result.error);
      if (failure === undefined) return this.finish(lastRun);
      if (!this.recordFailure(failure, { lastRun, logNode: this.ctx.nodeId })) return;
      feedback = failure;
    }
  }

  /** undefined when the attempt is good and pushed; otherwise the reason it is not. */
  private async check(worktree: string, runError: string | undefined): Promise<string | undefined> {
    if (runError) return `the coding agent failed: ${runError}`;
    const gates = await runGates(worktree, this.ctx.config.project.gates.commands);
    if (!gates.ok) return gates.output;
    if ((await worktreeCommitsAhead(worktree, this.ctx.baseBranch)) === 0) return `no commits on ${this.branch}: commit your work with git`;
    if (!this.stillMine()) return undefined;
    try {
      await pushBranch(worktree, this.branch);
    } catch (err) {
      return `push of ${this.branch} was rejected: ${(err as Error).message}`;
    }
    this.note("info", `pushed ${this.branch}`);
    return undefined;
  }

  private finish(lastRun: ReturnType<StoryJob["lastRun"]>): void {
    if (!this.stillMine()) return;
    const p = this.ctx.pipeline;
    p.move(this.storyId, "qa", { actor: "coder" }, { branch: this.branch, lastRun, logNode: this.ctx.nodeId, failure: undefined });
    this.ctx.log.info({ story: this.storyId, node: this.ctx.nodeId }, "story submitted to qa");
    const qa = p.getItem(this.storyId)?.qa ?? this.ctx.config.project.default_qa;
    if (qa === "server") {
      // The gates already passed in the worktree: that is the server's QA. A separate write, so
      // the qa stage is visible in the history.
      p.move(this.storyId, "merge", { actor: "system", commitsAhead: 1 });
    }
  }
}
