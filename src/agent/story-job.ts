import { writeFileSync } from "node:fs";
import type { AgentSlot } from "../config/agents-config.js";
import type { Role } from "../pipeline/roles.js";
import type { Stage } from "../pipeline/stages.js";
import { featureBranch } from "../pipeline/item-id.js";
import type { RunResult, RunningAgent } from "../runtime/agent-runtime.js";
import { runtimeFor } from "../runtime/runtimes.js";
import { buildPrompt } from "../runtime/prompt.js";
import type { ClaimToken } from "../state/claims.js";
import type { Item, ItemPatch, LastRun } from "../state/item.js";
import type { JobContext } from "./job-context.js";

/** First lines of a reason, for `blocked` and log lines. */
export function headline(reason: string, max = 300): string {
  return reason.split("\n")[0]!.slice(0, max);
}

/**
 * One claimed item being worked on this node by one slot. The job holds the claim token it was
 * granted; every write goes through `Claims` with that token, so a holder that lost its claim (to a
 * partition winner, an operator, a timeout) writes nothing.
 */
export abstract class StoryJob {
  stopped = false;
  protected running: RunningAgent | undefined;

  constructor(protected readonly ctx: JobContext, readonly token: ClaimToken, readonly slot: AgentSlot, readonly role: Role) {}

  abstract work(): Promise<void>;

  get storyId(): string {
    return this.token.id;
  }

  get stage(): Stage {
    return this.token.stage;
  }

  get pid(): number | undefined {
    return this.running?.pid;
  }

  /** Stop because the claim was lost or the node is shutting down: kill the tree, keep the worktree. */
  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ctx.log.warn({ story: this.storyId, reason }, "stopping coder");
    this.note("info", `stopped: ${reason}`);
    await this.running?.stop(reason);
  }

  stillMine(): boolean {
    return !this.stopped && this.ctx.claims.holds(this.token);
  }

  protected item(): Item | undefined {
    return this.ctx.pipeline.getItem(this.storyId);
  }

  protected note(kind: string, text: string): void {
    this.ctx.logs.append(this.storyId, { node: this.ctx.nodeId, slot: this.slot.name, kind, text });
  }

  /** Run this slot's runtime once in `cwd`, logging every line, and return its result. */
  protected async runAgent(cwd: string, feedback?: string): Promise<RunResult> {
    const item = this.item()!;
    const slot = this.slot;
    // Readers of the log (board, CLI via the server) find it on this node from now on.
    if (item.logNode !== this.ctx.nodeId) this.ctx.claims.patchAs(this.token, { logNode: this.ctx.nodeId });
    const vars = { story_id: this.storyId, worktree_path: cwd, base_branch: this.ctx.baseBranch, story_markdown: item.body || `# ${item.name}` };
    const prompt = buildPrompt(slot.role, slot.prompt, vars, feedback);
    const promptFile = this.ctx.logs.promptFile(this.storyId);
    writeFileSync(promptFile, prompt);
    this.ctx.log.info({ story: this.storyId, node: this.ctx.nodeId, slot: slot.name, role: slot.role, runtime: slot.runtime }, "agent invocation");
    this.note("info", `${slot.role} ${slot.name} (${slot.runtime}) started on node ${this.ctx.nodeId}`);
    this.running = runtimeFor(slot.runtime).start({
      storyId: this.storyId, slot, cwd, prompt, storyMarkdown: vars.story_markdown, promptFile, baseBranch: this.ctx.baseBranch,
      inactivityMs: this.ctx.config.project.inactivity_timeout_secs * 1000,
      onLog: (entry) => this.ctx.logs.append(this.storyId, { node: this.ctx.nodeId, slot: slot.name, ...entry }),
    });
    this.ctx.trackPid(this.storyId, this.running.pid);
    this.ctx.pool.markRunning(this.storyId);
    const result = await this.running.done;
    this.ctx.trackPid(this.storyId, undefined);
    this.note("info", `${slot.role} finished: ${result.ok ? "ok" : result.error}`);
    return result;
  }

  protected lastRun(r: RunResult): LastRun {
    const s = this.slot;
    return { node: this.ctx.nodeId, slot: s.name, turns: r.turns, costUsd: r.costUsd, durationMs: r.durationMs, exit: r.exit, ...(r.error ? { error: r.error.slice(0, 500) } : {}) };
  }

  /**
   * The one outcome policy for a failed attempt: one retry is spent; at `max_retries` the item is
   * blocked with the reason. With `backTo` the item moves there (QA findings, merge conflicts go
   * back to `current`); without, it stays and the caller tries again while this returns true.
   */
  protected attemptFailed(reason: string, opts: { backTo?: Stage; patch?: ItemPatch } = {}): boolean {
    if (!this.stillMine()) return false;
    const retries = this.item()!.retries + 1;
    const atLimit = retries >= this.ctx.config.project.max_retries;
    const failure = reason.slice(0, 4000);
    const patch: ItemPatch = { ...opts.patch, retries, failure, blocked: atLimit ? headline(reason) : null };
    this.ctx.log.warn({ story: this.storyId, retries, blocked: atLimit, reason: headline(reason) }, opts.backTo ? `sent back to ${opts.backTo}` : "attempt failed");
    if (opts.backTo) {
      this.ctx.claims.moveAs(this.token, opts.backTo, { actor: this.role, reason }, patch);
      return false;
    }
    if (atLimit) {
      this.ctx.claims.release(this.token, patch);
      this.note("info", `blocked after ${retries} failed attempts`);
      return false;
    }
    this.ctx.claims.patchAs(this.token, patch);
    return true;
  }

  /** An unexpected error (git, disk): a failed attempt, and the claim is given back to be retried. */
  fail(reason: string): void {
    if (this.attemptFailed(reason)) this.ctx.claims.release(this.token);
  }

  protected get branch(): string {
    return featureBranch(this.storyId);
  }
}
