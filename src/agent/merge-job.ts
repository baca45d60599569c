import { runGatesChecked } from "../git/gate-check.js";
import { commitAndPush, ensureMergeWorkspace, squashStory, stageTree, unresolvedFiles } from "../git/merge-workspace.js";
import { squashMessage } from "../pipeline/story-trailer.js";
import type { FailureKind } from "../pipeline/failure-kind.js";
import { StoryJob } from "./story-job.js";

/** Pushing the base branch can lose a race with another mergemaster; try again from the new base. */
const PUSH_ATTEMPTS = 3;

/**
 * The mergemaster on an item in `merge`: squash-merge its branch onto origin's base in the merge
 * workspace, run the gates, push the base (never forced), record the merge commit, `done`.
 * A conflict or failing gate gets one resolution attempt by the slot's agent, then the item goes
 * back to `current` with the reason.
 *
 * Steps are judged by what is true on origin (rule 3): each squash commit carries a
 * `Huskies-Story: <id>` trailer, and a story whose trailer is already on the base is recorded as
 * merged (a mergemaster killed after its push landed). The commit is exactly the staged tree the
 * gates checked: a gate that rewrites tracked files fails, files it leaves are never committed.
 */
export class MergeJob extends StoryJob {
  async work(): Promise<void> {
    await this.ctx.mergeLock(() => this.merge());
  }

  private async merge(): Promise<void> {
    const ws = await ensureMergeWorkspace(this.ctx.root, (what) => this.cleaned(what));
    const base = this.ctx.baseBranch;
    const item = this.item();
    if (!item) return;
    const sendBack = (message: string, kind: FailureKind) => void this.attemptFailed({ kind, message }, { backTo: "current" });
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      if (!this.stillMine()) return;
      const squash = await squashStory(ws, base, this.storyId);
      if (!("ok" in squash)) {
        if (squash.kind === "already-merged") return this.recordMerged(squash.commit, true);
        if (squash.kind === "nothing-to-merge") return sendBack(`merge refused: ${squash.reason}`, "no_commits");
        if (!(await this.resolve(ws, squash.reason))) return sendBack(squash.reason, "conflict");
      }
      let gates = await this.gates(ws);
      if (!gates.ok && (await this.resolve(ws, gates.output))) gates = await this.gates(ws);
      if (!gates.ok) {
        const trouble = this.machineTrouble(ws, gates.output);
        if (trouble) return this.nodeTrouble(trouble);
        return sendBack(`gates failed on the merged tree:\n${gates.output}`, "gates");
      }
      if (!this.stillMine()) return;
      const pushed = await commitAndPush(ws, base, squashMessage(this.storyId, item.name, this.branch));
      if (pushed.ok) return this.recordMerged(pushed.commit, false);
      if (!pushed.race) return this.refused(pushed.message);
      this.ctx.log.warn({ story: this.storyId, attempt, reason: pushed.reason }, "base push lost a race; retrying from the new base");
    }
    sendBack(`could not push ${base} after ${PUSH_ATTEMPTS} attempts: it kept moving under the merge`, "push_rejected");
  }

  /** Stage the tree to commit (squash and any resolution), then hold the gates to checking it. */
  private async gates(ws: string) {
    await stageTree(ws);
    // The merged tree runs the story's code too: confined like the coder's gates, no branch of its own.
    return runGatesChecked(this.gateRun(ws), this.ctx.config.project.gates.commands, { dropUntracked: true });
  }

  private recordMerged(commit: string, already: boolean): void {
    const moved = this.ctx.claims.moveAs(
      this.token,
      "done",
      { actor: "mergemaster", mergeCommit: commit },
      { mergeCommit: commit, failure: undefined },
    );
    if (!moved) return;
    const how = already
      ? `already merged into ${this.ctx.baseBranch} as ${commit} (found its Huskies-Story trailer)`
      : `merged into ${this.ctx.baseBranch} as ${commit}`;
    this.note("info", how);
    this.ctx.log.info({ story: this.storyId, commit, already }, already ? "already merged: recorded as done" : "merged");
  }

  /**
   * Origin said no (a hook, a protected branch). Pushing again or re-running the coder gets the
   * same answer, so the story is blocked in `merge` at once with the remote's own words; a person
   * fixes origin (or the story) and unblocks it.
   */
  private refused(message: string): void {
    this.failed = true;
    const base = this.ctx.baseBranch;
    const blocked = `origin refused the push of ${base}: ${message.replace(/\s*\n\s*/g, " | ")}`.slice(0, 300);
    const released = this.ctx.claims.release(this.token, {
      blocked,
      failure: { kind: "push_rejected", message: `origin refused the push of ${base}:\n${message}` },
    });
    if (!released) return;
    this.note("info", `blocked: ${blocked}`);
    this.ctx.log.error(
      { story: this.storyId, remote: message },
      `origin refused the push of ${base}; story blocked in merge until someone unblocks it`,
    );
  }

  /** One attempt by the mergemaster agent; true when the workspace is clean of conflicts after it. */
  private async resolve(ws: string, problem: string): Promise<boolean> {
    this.note("info", `asking the mergemaster agent to resolve: ${problem.split("\n")[0]}`);
    const result = await this.runAgent(ws, problem);
    if (!result.ok || !this.stillMine()) return false;
    return (await unresolvedFiles(ws)).length === 0;
  }
}
