import { writeFileSync } from "node:fs";
import type { AgentSlot } from "../config/agents-config.js";
import type { Role } from "../pipeline/roles.js";
import type { Stage } from "../pipeline/stages.js";
import { featureBranch } from "../pipeline/item-id.js";
import type { ActorRun } from "./actor-run.js";
import type { RunResult, RunningAgent } from "../runtime/agent-runtime.js";
import { runtimeFor } from "../runtime/runtimes.js";
import { buildPrompt } from "../runtime/prompt.js";
import type { Item, ItemPatch, LastRun } from "../state/item.js";
import type { JobContext } from "./job-context.js";

/**
 * One claimed item being worked on this node by one slot. The claim's epoch is captured at
 * start; every write afterwards first checks the claim still names this node with that epoch,
 * so a holder that lost its claim (to a partition winner, an operator, a timeout) writes nothing.
 */
export abstract class StoryJob implements ActorRun {
  stopped = false;
  protected running: RunningAgent | undefined;
  readonly stage: Stage;

  constructor(protected readonly ctx: JobContext, readonly storyId: string, readonly slot: AgentSlot, readonly role: Role, readonly epoch: number, stage: Stage) {
    this.stage = stage;
  }

  abstract work(): Promise<void>;

  /** Stop because the claim was lost or the node is shutting down: kill the tree, keep the worktree. */
  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ctx.log.warn({ story: this.storyId, reason }, "stopping coder");
    this.note("info", `stopped: ${reason}`);
    await this.running?.stop(reason);
  }

  get pid(): number | undefined {
    return this.running?.pid;
  }

  protected item(): Item | undefined {
    return this.ctx.pipeline.getItem(this.storyId);
  }

  stillMine(): boolean {
    const item = this.item();
    return !this.stopped && !!item && item.stage === this.stage && item.claim?.node === this.ctx.nodeId && item.claim.epoch === this.epoch;
  }

  protected note(kind: string, text: string): void {
    this.ctx.logs.append(this.storyId, { node: this.ctx.nodeId, slot: this.slot.name, kind, text });
  }

  /** Run this slot's runtime once in `cwd`, logging every line, and return its result. */
  protected async runAgent(cwd: string, feedback?: string, slot = this.slot): Promise<RunResult> {
    const item = this.item()!;
    // Readers of the log (board, CLI via the server) find it on this node from now on.
    if (item.logNode !== this.ctx.nodeId && this.stillMine()) this.ctx.pipeline.update(this.storyId, { logNode: this.ctx.nodeId });
    const vars = { story_id: this.storyId, worktree_path: cwd, base_branch: this.ctx.baseBranch, story_markdown: item.body || `# ${item.name}` };
    const prompt = buildPrompt(slot.role, slot.prompt, vars, feedback);
    const promptFile = this.ctx.logs.file(this.storyId).replace(/\.log$/, ".prompt.md");
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

  protected lastRun(r: RunResult, slot = this.slot): LastRun {
    return { node: this.ctx.nodeId, slot: slot.name, turns: r.turns, costUsd: r.costUsd, durationMs: r.durationMs, exit: r.exit, ...(r.error ? { error: r.error.slice(0, 500) } : {}) };
  }

  /**
   * Count a failed attempt. Below `max_retries` the caller tries again; at the limit the item is
   * blocked with the reason and the claim released. Returns whether to try again.
   */
  protected recordFailure(reason: string, patch: ItemPatch = {}): boolean {
    if (!this.stillMine()) return false;
    const item = this.item()!;
    const retries = item.retries + 1;
    const short = reason.slice(0, 4000);
    this.ctx.log.warn({ story: this.storyId, retries, reason: short.split("\n")[0] }, "attempt failed");
    if (retries >= this.ctx.config.project.max_retries) {
      this.ctx.pipeline.update(this.storyId, { ...patch, retries, failure: short, blocked: short.split("\n")[0]!.slice(0, 300), claim: null });
      this.note("info", `blocked after ${retries} failed attempts`);
      return false;
    }
    this.ctx.pipeline.update(this.storyId, { ...patch, retries, failure: short });
    return true;
  }

  /** An unexpected error (git, disk): a failed attempt; the claim is released so the item is retried. */
  fail(reason: string): void {
    if (this.recordFailure(reason) && this.stillMine()) this.ctx.pipeline.update(this.storyId, { claim: null });
  }

  /** Send the item back to `current` (QA findings, merge conflicts): one retry, blocked at the limit. */
  protected sendBack(reason: string, patch: ItemPatch = {}): void {
    if (!this.stillMine()) return;
    const item = this.item()!;
    const retries = item.retries + 1;
    const blocked = retries >= this.ctx.config.project.max_retries ? reason.split("\n")[0]!.slice(0, 300) : null;
    this.ctx.pipeline.move(this.storyId, "current", { actor: this.role, reason }, { ...patch, retries, failure: reason.slice(0, 4000), blocked });
    this.ctx.log.warn({ story: this.storyId, retries, blocked: !!blocked, reason: reason.split("\n")[0] }, "sent back to current");
  }

  protected get branch(): string {
    return featureBranch(this.storyId);
  }
}
