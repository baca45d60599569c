import { runGates } from "../git/gates.js";
import { commitAndPush, ensureMergeWorkspace, squashStory, unresolvedFiles } from "../git/merge-workspace.js";
import type { FailureKind } from "../pipeline/failure-kind.js";
import { StoryJob } from "./story-job.js";

/** Pushing the base branch can lose a race with another mergemaster; try again from the new base. */
const PUSH_ATTEMPTS = 3;

/**
 * The mergemaster on an item in `merge`: squash-merge its branch onto origin's base in the merge
 * workspace, run the gates, push the base (never forced), record the merge commit, `done`.
 * A conflict or failing gate gets one resolution attempt by the slot's agent, then the item goes
 * back to `current` with the reason.
 */
export class MergeJob extends StoryJob {
  async work(): Promise<void> {
    await this.ctx.mergeLock(() => this.merge());
  }

  private async merge(): Promise<void> {
    const ws = await ensureMergeWorkspace(this.ctx.root);
    const base = this.ctx.baseBranch;
    const item = this.item();
    if (!item) return;
    const sendBack = (kind: FailureKind, message: string) => void this.attemptFailed({ kind, message }, { backTo: "current" });
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      if (!this.stillMine()) return;
      const squash = await squashStory(ws, base, this.storyId);
      if (!("ok" in squash)) {
        if (squash.kind === "nothing-to-merge") return sendBack("no_commits", `merge refused: ${squash.reason}`);
        if (!(await this.resolve(ws, squash.reason))) return sendBack("conflict", squash.reason);
      }
      let gates = await runGates(ws, this.ctx.config.project.gates.commands);
      if (!gates.ok && (await this.resolve(ws, gates.output))) gates = await runGates(ws, this.ctx.config.project.gates.commands);
      if (!gates.ok) return sendBack("gates", `gates failed on the merged tree:\n${gates.output}`);
      if (!this.stillMine()) return;
      const pushed = await commitAndPush(
        ws,
        base,
        `${this.storyId}: ${item.name.replace(/\s+/g, " ").slice(0, 120)}\n\nSquash-merge of ${this.branch} by huskies.`,
      );
      if (pushed.ok) {
        const moved = this.ctx.claims.moveAs(
          this.token,
          "done",
          { actor: "mergemaster", mergeCommit: pushed.commit },
          { mergeCommit: pushed.commit, failure: undefined },
        );
        if (!moved) return;
        this.note("info", `merged into ${base} as ${pushed.commit}`);
        this.ctx.log.info({ story: this.storyId, commit: pushed.commit }, "merged");
        return;
      }
      this.ctx.log.warn({ story: this.storyId, attempt, reason: pushed.reason }, "base push rejected; retrying from the new base");
    }
    sendBack("push_rejected", `could not push ${base} after ${PUSH_ATTEMPTS} attempts`);
  }

  /** One attempt by the mergemaster agent; true when the workspace is clean of conflicts after it. */
  private async resolve(ws: string, problem: string): Promise<boolean> {
    this.note("info", `asking the mergemaster agent to resolve: ${problem.split("\n")[0]}`);
    const result = await this.runAgent(ws, problem);
    if (!result.ok || !this.stillMine()) return false;
    return (await unresolvedFiles(ws)).length === 0;
  }
}
