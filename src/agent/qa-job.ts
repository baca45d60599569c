import { git } from "../git/git.js";
import { ensureWorktree, worktreeCommitsAhead } from "../git/worktree.js";
import { StoryJob } from "./story-job.js";

/**
 * A QA agent on an item in `qa` (`default_qa = "agent"`): checks the acceptance criteria in the
 * story's worktree. The run passes when it succeeds and does not say `QA: FAIL`; the findings of
 * a failure go back to `current` as the reason.
 */
export class QaJob extends StoryJob {
  async work(): Promise<void> {
    const worktree = await ensureWorktree(this.ctx.root, this.storyId, this.ctx.baseBranch);
    // Another node may have written the branch: look at what origin has.
    await git(worktree, ["merge", "--ff-only", "--quiet", `origin/${this.branch}`], { allowFail: true });
    const lines: string[] = [];
    const stopFollow = this.ctx.logs.follow(this.storyId, (line) => lines.push(line));
    const result = await this.runAgent(worktree).finally(stopFollow);
    if (!this.stillMine()) return;
    const output = lines.join("\n");
    const failed = !result.ok || /QA:\s*FAIL/.test(output);
    if (failed) {
      const findings = result.ok ? findingsOf(output) : `qa agent failed: ${result.error}`;
      return this.sendBack(`QA failed: ${findings}`, { lastRun: this.lastRun(result) });
    }
    const ahead = await worktreeCommitsAhead(worktree, this.ctx.baseBranch);
    if (ahead === 0) return this.sendBack(`QA: ${this.branch} has no commits ahead of ${this.ctx.baseBranch}`);
    this.ctx.pipeline.move(this.storyId, "merge", { actor: "qa", commitsAhead: ahead });
  }
}

function findingsOf(output: string): string {
  const text = output.split("\n").map((l) => {
    try {
      const e = JSON.parse(l) as { text?: string; event?: { type?: string; result?: string } };
      return e.event?.type === "result" ? e.event.result ?? "" : e.text ?? "";
    } catch {
      return l;
    }
  }).join("\n");
  const i = text.search(/QA:\s*FAIL/);
  return (i >= 0 ? text.slice(i) : text.slice(-2000)).trim().slice(0, 2000);
}
