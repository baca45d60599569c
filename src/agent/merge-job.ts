import { runGatesChecked } from "../git/gate-check.js";
import { rebaseWithRerere, storiesThatChanged } from "../git/git-alone.js";
import { revParse } from "../git/git.js";
import { commitAndPush, ensureMergeWorkspace, squashStory, stageTree, unresolvedFiles } from "../git/merge-workspace.js";
import { conflictVerdict } from "../pipeline/conflict-rounds.js";
import type { MergeStep } from "../pipeline/merge-queue.js";
import { squashMessage } from "../pipeline/story-trailer.js";
import type { FailureKind } from "../pipeline/failure-kind.js";
import { headline, StoryJob } from "./story-job.js";

/** Pushing the base branch can lose a race with another mergemaster; try again from the new base. */
const PUSH_ATTEMPTS = 3;

/**
 * The mergemaster on an item in `merge`: squash-merge its branch onto origin's base in the merge
 * workspace, run the gates, push the base (never forced), record the merge commit, `done`.
 *
 * A conflict is first left to git alone (a rebase of the branch onto the base with rerere). If
 * that fails, under `resolve_conflicts = "coder"` (the default) the story goes back to the session
 * that wrote it as a conflict round (issue 29.1; not a retry; blocked past `max_conflict_rounds`);
 * under `"mergemaster"` the slot's agent gets one attempt in the workspace, then the story goes
 * back to `current` as a failed attempt. A failing gate on the merged tree goes back to the coder
 * as a failed attempt (after one attempt by the slot's agent under `"mergemaster"`). Each step is
 * written on the item (`mergeStep`) for the merge queue's view.
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
    const sendBack = (message: string, kind: FailureKind) =>
      void this.attemptFailed({ kind, message }, { backTo: "current", patch: { mergeStep: undefined } });
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      if (!this.stillMine()) return;
      this.step("squashing");
      const squash = await squashStory(ws, base, this.storyId);
      if (!("ok" in squash)) {
        if (squash.kind === "already-merged") return this.recordMerged(squash.commit, true);
        if (squash.kind === "nothing-to-merge") return sendBack(`merge refused: ${squash.reason}`, "no_commits");
        if (!(await this.conflicted(ws, squash))) return;
      }
      this.step("gates");
      let gates = await this.gates(ws);
      if (!gates.ok && this.byAgent() && (await this.resolve(ws, gates.output))) gates = await this.gates(ws);
      if (!gates.ok) {
        const trouble = this.machineTrouble(ws, gates.output);
        if (trouble) return this.nodeTrouble(trouble);
        return sendBack(`gates failed on the merged tree:\n${gates.output}`, "gates");
      }
      if (!this.stillMine()) return;
      this.step("pushing");
      const pushed = await commitAndPush(ws, base, squashMessage(this.storyId, item.name, this.branch));
      if (pushed.ok) return this.recordMerged(pushed.commit, false);
      if (!pushed.race) return this.refused(pushed.message);
      this.ctx.log.warn({ story: this.storyId, attempt, reason: pushed.reason }, "base push lost a race; retrying from the new base");
    }
    sendBack(`could not push ${base} after ${PUSH_ATTEMPTS} attempts: it kept moving under the merge`, "push_rejected");
  }

  /** `resolve_conflicts = "mergemaster"`: the slot's agent resolves in the workspace (the path before issue 29). */
  private byAgent(): boolean {
    return this.ctx.config.project.resolve_conflicts === "mergemaster";
  }

  /** Write the step on the item, for the merge queue's view (a holder write: stale tokens write nothing). */
  private step(step: MergeStep): void {
    if (this.item()?.mergeStep !== step) this.ctx.claims.patchAs(this.token, { mergeStep: step });
  }

  /**
   * The squash conflicted. Git alone first; then the agent (mergemaster mode) or a conflict round
   * (coder mode). True when the workspace now holds a clean, staged merge to run the gates on.
   */
  private async conflicted(ws: string, squash: { reason: string; files: string[] }): Promise<boolean> {
    const base = this.ctx.baseBranch;
    this.step("rebasing");
    const alone = await rebaseWithRerere(ws, base, this.storyId);
    if (alone.ok) {
      this.note("info", `git alone resolved the conflict (a rebase onto ${base} with rerere)`);
      return true;
    }
    if (this.byAgent()) {
      // Back to the conflicted squash the agent is asked to resolve.
      await squashStory(ws, base, this.storyId);
      this.step("resolving");
      if (await this.resolve(ws, squash.reason)) return true;
      void this.attemptFailed({ kind: "conflict", message: squash.reason }, { backTo: "current", patch: { mergeStep: undefined } });
      return false;
    }
    await this.conflictRound(ws, squash);
    return false;
  }

  /**
   * Hand the story back to the session that wrote it (issue 29.1), with the conflicting files, the
   * base commit and the stories that changed those files; blocked with `failure.kind = "conflict"`
   * past `max_conflict_rounds`. Not a failed attempt: `retries` stays, and so does the story's
   * place in the merge queue.
   */
  private async conflictRound(ws: string, squash: { reason: string; files: string[] }): Promise<void> {
    const item = this.item();
    if (!item || !this.stillMine()) return;
    const base = this.ctx.baseBranch;
    const commit = (await revParse(ws, `origin/${base}`))!;
    const stories = await storiesThatChanged(ws, base, this.storyId, squash.files);
    const detail = `${squash.reason}${stories.length ? ` (changed there by ${stories.join(", ")})` : ""}`;
    const verdict = conflictVerdict(item.conflictRounds ?? 0, this.ctx.config.project.max_conflict_rounds);
    if ("blocked" in verdict) {
      this.failed = true;
      const message = `${verdict.blocked}: ${detail}`;
      if (
        this.ctx.claims.release(this.token, { blocked: headline(message), failure: { kind: "conflict", message }, mergeStep: undefined })
      ) {
        this.note("info", `blocked: ${message}`);
        this.ctx.log.error({ story: this.storyId, rounds: item.conflictRounds ?? 0 }, "conflict rounds exhausted: story blocked in merge");
      }
      return;
    }
    const n = verdict.round;
    const reason = `conflict round ${n}: ${detail}`;
    const moved = this.ctx.claims.moveAs(
      this.token,
      "current",
      { actor: "mergemaster", reason, conflictRound: n },
      {
        conflictRounds: n,
        conflict: { round: n, base: commit, files: squash.files.slice(0, 50), stories, at: Date.now() },
        failure: { kind: "conflict", message: reason },
        queuedAt: item.queuedAt ?? item.stageAt,
        mergeStep: undefined,
      },
    );
    if (!moved) return;
    this.note("info", `${reason}; back to the session that wrote it (${item.coderSession?.node.slice(0, 12) ?? "any node"})`);
    this.ctx.log.info({ story: this.storyId, round: n, files: squash.files, stories, base: commit }, "conflict round: back to its coder");
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
      { mergeCommit: commit, failure: undefined, mergeStep: undefined, queuedAt: undefined, conflict: undefined, overlaps: undefined },
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
