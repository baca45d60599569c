import { git } from "../git/git.js";
import { ensureWorktree, worktreeCommitsAhead } from "../git/worktree.js";
import { StoryJob } from "./story-job.js";

/**
 * A QA agent on an item in `qa` (`default_qa = "agent"`): checks the acceptance criteria in the
 * story's worktree. The run passes when it succeeds and its final text does not say `QA: FAIL`;
 * the findings of a failure go back to `current` as the reason.
 */
export class QaJob extends StoryJob {
  async work(): Promise<void> {
    const worktree = await ensureWorktree(this.ctx.root, this.storyId, this.ctx.baseBranch, {
      fetch: true,
      onCleaned: (what) => this.cleaned(what),
    });
    // Another node may have written the branch: look at what origin has.
    await git(worktree, ["merge", "--ff-only", "--quiet", `origin/${this.branch}`], { allowFail: true });
    const result = await this.runAgent(worktree);
    if (!this.stillMine()) return;
    const lastRun = this.lastRun(result);
    const trouble = result.ok ? this.missingWorktree(worktree) : this.machineTrouble(worktree, result.error);
    if (trouble) return this.nodeTrouble(trouble, { lastRun });
    if (!result.ok)
      return void this.attemptFailed(
        { kind: result.reason === "budget exhausted" ? "budget" : "qa", message: `QA failed: qa agent failed: ${result.error}` },
        { backTo: "current", patch: { lastRun } },
      );
    const verdict = result.finalText ?? "";
    if (/QA:\s*FAIL/.test(verdict))
      return void this.attemptFailed(
        { kind: "qa", message: `QA failed: ${findingsOf(verdict)}` },
        { backTo: "current", patch: { lastRun } },
      );
    const ahead = await worktreeCommitsAhead(worktree, this.ctx.baseBranch);
    if (ahead === 0)
      return void this.attemptFailed(
        { kind: "no_commits", message: `QA: ${this.branch} has no commits ahead of ${this.ctx.baseBranch}` },
        { backTo: "current" },
      );
    this.ctx.claims.moveAs(this.token, "merge", { actor: "qa", commitsAhead: ahead }, { lastRun });
  }
}

/** The findings: from `QA: FAIL` on, bounded. */
function findingsOf(text: string): string {
  const i = text.search(/QA:\s*FAIL/);
  return (i >= 0 ? text.slice(i) : text.slice(-2000)).trim().slice(0, 2000);
}
