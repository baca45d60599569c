import { existsSync } from "node:fs";
import { join } from "node:path";
import type { AgentSlot } from "../config/agents-config.js";
import type { Role } from "../pipeline/roles.js";
import type { Stage } from "../pipeline/stages.js";
import { featureBranch } from "../pipeline/item-id.js";
import type { RunResult, RunningAgent } from "../runtime/agent-runtime.js";
import type { Review } from "../pipeline/review.js";
import type { ClaimToken } from "../state/claims.js";
import type { Failure, Item, ItemPatch, LastRun, Question } from "../state/item.js";
import { isNodeTrouble, missingWorktree, type NodeTrouble } from "../pipeline/node-trouble.js";
import { runtimeFor } from "../runtime/runtimes.js";
import { writeHostFile } from "../confinement/host-files.js";
import type { GateRun } from "../git/gates.js";
import { isAccountTrouble } from "../pipeline/account-rules.js";
import type { JobContext } from "./job-context.js";
import { diskFull, handBackForTrouble } from "./node-trouble-policy.js";
import { awaitAnswer, openQuestion, openStoryChannel } from "./story-channel.js";
import { answeredTurn, LOST_WAITING, turnPrompt, type Turn } from "./run-turn.js";

/**
 * A conflict round's run (issue 29.1): the round's instructions (the whole prompt when the session
 * that wrote the code is resumed, appended to the story's prompt otherwise), the ref of the base,
 * and the session to resume, if this node and slot's runtime have it.
 */
export interface RoundRun {
  prompt: string;
  conflict: { round: number; ref: string };
  resume?: string;
}

/** A review the run must address; `resume`: continue the session that did the reviewed work, if here. */
export interface ReviewRun {
  review: Review;
  resume: boolean;
}

/** A run the kernel's OOM killer ended: the machine ran out of memory (maybe because of the story). */
function oomTrouble(r: RunResult): NodeTrouble {
  return { kind: "out_of_memory", reason: `out of memory: ${r.reason}`, storyMayCause: true };
}

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
  /** The job ended its step without success (a failed attempt, node trouble): the start breaker backs off. */
  failed = false;
  /**
   * In its last short step (a coder pushing): the slot frees in a moment, so the node may ask for
   * its next item now and hold the grant until then (see `WorkLoop.pass`).
   */
  finishing = false;
  /** Called when `finishing` changes (the work loop passes again). */
  onFinishing: () => void = () => undefined;
  protected running: RunningAgent | undefined;
  /** Ends a wait for a person's answer (set while waiting; `stop` calls it). */
  private wake: (() => void) | undefined;

  constructor(
    protected readonly ctx: JobContext,
    readonly token: ClaimToken,
    readonly slot: AgentSlot,
    readonly role: Role,
  ) {}

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
    this.wake?.();
    await this.running?.stop(reason);
  }

  protected setFinishing(on: boolean): void {
    if (this.finishing === on) return;
    this.finishing = on;
    this.onFinishing();
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

  /**
   * Run this slot's runtime in `cwd`, logging every line. The node's own troubles are handled
   * here, never charged to the story: a node failure gives the claim back (retries unchanged) and
   * pauses the node; a lost run writes nothing. After either, `stillMine()` is false. A run of
   * this story on this node that ended that way is continued (`--resume`) rather than redone.
   * A run that asked a person (`ask_human`) leaves the story waiting, claim and slot held, until
   * the answer arrives; then the same session continues with it (another node, or a session this
   * node no longer has, starts afresh with the question and answer in the prompt).
   */
  protected async runAgent(cwd: string, feedback?: string, opts: { review?: ReviewRun; round?: RoundRun } = {}): Promise<RunResult> {
    const { review, round } = opts;
    let item = this.item()!;
    const interrupted = this.resumable(item);
    // Sent back by the line: the session that wrote the work hears the comments, if this node has it.
    const reviewed = !round && !interrupted && review?.resume ? this.reviewedSession(item) : undefined;
    // A conflict round resumes the session that wrote the code when this node has it (issue 29.1).
    let turn: Turn = round
      ? { feedback, resume: round.resume, round }
      : { feedback, resume: interrupted ?? reviewed, review: review?.review, reviewResume: !!reviewed };
    let result: (RunResult & { heldBack?: boolean }) | undefined;
    for (;;) {
      if (openQuestion(item.question)) {
        this.note("info", `waiting for a person: ${headline(item.question.text)}`);
        this.ctx.log.info({ story: this.storyId, question: headline(item.question.text) }, "story waits for a person");
        const answered = await awaitAnswer(
          this.ctx,
          this.storyId,
          () => this.stillMine(),
          (wake) => (this.wake = wake),
        );
        this.wake = undefined;
        if (!this.stillMine()) return result ?? LOST_WAITING;
        if (answered) turn = { ...this.answered(answered, feedback), review: review?.review };
        else if (result) break; // withdrawn: nothing to resume with
      }
      result = await this.runTurn(cwd, turn);
      if (result.heldBack) {
        this.giveBack(result.reason);
        return result;
      }
      item = this.item() ?? item;
      if (result.outcome === "node_failure" || result.outcome === "lost" || !this.stillMine() || !openQuestion(item.question)) break;
    }
    // A run that could not start because of this machine (its folder deleted, spawn's ENOENT; a
    // full disk while preparing the sandbox) is the same trouble as one that hit it while running:
    // the node's, with the breaker's pause, never a bare node failure.
    const machine =
      result.outcome === "node_failure" && !result.heldBack && this.stillMine()
        ? this.machineTrouble(cwd, result.error ?? result.reason)
        : undefined;
    if (machine) this.nodeTrouble(machine);
    else if (result.outcome === "node_failure") this.nodeFailed(result);
    else if (result.oomKilled && this.stillMine()) this.nodeTrouble(oomTrouble(result), { lastRun: this.lastRun(result) });
    else if (result.outcome !== "lost") {
      this.ctx.health.succeeded();
      if (this.account) this.ctx.accounts?.worked(this.account);
    }
    return result;
  }

  /** The account of the current run (issue 28), and the slot as it runs with it. */
  protected account: string | undefined;
  private runSlot: AgentSlot | undefined;
  private maxBudgetUsd: number | undefined;
  /** The run's account trouble was already acted on at its first sign. */
  private accountTroubleSignalled = false;

  /** One run; a session that cannot be resumed any more is started afresh. */
  private async runTurn(cwd: string, turn: Turn): Promise<RunResult & { heldBack?: boolean }> {
    const item = this.item()!;
    const result = await this.runOnce(cwd, item, turn);
    if (turn.resume && result.resumeFailed && this.stillMine()) {
      this.note("info", `could not resume session ${turn.resume}; starting afresh`);
      return this.runOnce(cwd, item, { feedback: turn.feedback, note: turn.note, review: turn.review, round: turn.round });
    }
    return result;
  }

  /** The turn after a person's answer; the question leaves the card once a run has it. */
  private answered(q: Question, feedback: string | undefined): Turn {
    this.ctx.claims.patchAs(this.token, { question: undefined });
    this.note("info", `a person answered: ${headline(q.answer ?? "")}`);
    return answeredTurn(q, { node: this.ctx.nodeId, slot: this.slot.name }, feedback);
  }

  /** The session to continue: the last run was on this node and ended through no fault of the story. */
  private resumable(item: Item): string | undefined {
    const last = item.lastRun;
    const ok =
      last?.node === this.ctx.nodeId && last.slot === this.slot.name && (last.outcome === "node_failure" || last.outcome === "lost");
    return ok ? last.sessionId : undefined;
  }

  /** The session of this slot's last run here, when it finished normally (its work was reviewed). */
  private reviewedSession(item: Item): string | undefined {
    const last = item.lastRun;
    return last?.node === this.ctx.nodeId && last.slot === this.slot.name && last.outcome === "done" ? last.sessionId : undefined;
  }

  private async runOnce(cwd: string, item: Item, turn: Turn): Promise<RunResult & { heldBack?: boolean }> {
    // Since the grant (or the last attempt) the project's daily cap may have been reached, or every
    // account of this slot paused: nothing runs, and the story goes back untouched (giveBack).
    const held = this.ctx.accounts?.holdReason(this.slot);
    if (held) return { ok: false, outcome: "node_failure", reason: held, error: held, exit: null, durationMs: 0, heldBack: true };
    const prepared = this.ctx.accounts?.prepare(this.slot);
    let resumeSessionId = turn.resume;
    // A session belongs to one vendor: a slot that fell back to another account's runtime starts afresh.
    if (prepared && (item.lastRun?.runtime ?? this.slot.runtime) !== prepared.slot.runtime) {
      resumeSessionId = undefined;
      turn = { ...turn, resume: undefined };
    }
    this.account = prepared?.account;
    this.accountTroubleSignalled = false;
    this.maxBudgetUsd = prepared?.maxBudgetUsd ?? this.slot.max_budget_usd;
    const slot = (this.runSlot = prepared?.slot ?? this.slot);
    const vars = {
      story_id: this.storyId,
      worktree_path: cwd,
      base_branch: this.ctx.baseBranch,
      story_markdown: item.body || `# ${item.name}`,
    };
    const prompt = turnPrompt(turn, slot, vars);
    const promptFile = this.ctx.logs.promptFile(this.storyId);
    // Never through a link a run could have planted (the file is outside every checkout anyway).
    writeHostFile(promptFile, prompt);
    this.ctx.log.info(
      {
        story: this.storyId,
        node: this.ctx.nodeId,
        slot: slot.name,
        role: slot.role,
        runtime: slot.runtime,
        resume: resumeSessionId,
        ...(turn.round ? { conflictRound: turn.round.conflict.round } : {}),
      },
      "agent invocation",
    );
    this.note(
      "info",
      `${slot.role} ${slot.name} (${slot.runtime}) started on node ${this.ctx.nodeId}${turn.round ? ` for conflict round ${turn.round.conflict.round}` : ""}${this.account && !this.account.startsWith("@") ? ` with account ${this.account}` : ""}${resumeSessionId ? `, resuming session ${resumeSessionId}` : ""}`,
    );
    // The channel: a socket for this run only, which the confinement mounts into its sandbox.
    const channel = await openStoryChannel(this.ctx, { token: this.token, slot, sessionId: () => this.sessionId });
    try {
      return await this.startAndWait(cwd, prompt, promptFile, vars.story_markdown, resumeSessionId, channel?.path, turn.round?.conflict);
    } finally {
      await channel?.close();
    }
  }

  private async startAndWait(
    cwd: string,
    prompt: string,
    promptFile: string,
    storyMarkdown: string,
    resumeSessionId: string | undefined,
    socket: string | undefined,
    conflict?: RoundRun["conflict"],
  ): Promise<RunResult> {
    const slot = this.runSlot ?? this.slot;
    const project = this.ctx.config.project;
    this.running = runtimeFor(slot.runtime).start({
      storyId: this.storyId,
      slot,
      cwd,
      prompt,
      storyMarkdown,
      promptFile,
      baseBranch: this.ctx.baseBranch,
      inactivityMs: project.inactivity_timeout_secs * 1000,
      projectRoot: this.ctx.root,
      confinement: this.ctx.confinement,
      // A coder or QA run may move its story's branch; the mergemaster's workspace has none.
      ownBranch: this.role === "mergemaster" ? undefined : this.branch,
      resumeSessionId,
      maxBudgetUsd: this.maxBudgetUsd,
      conflict,
      // The same path inside a sandbox as outside, so `$HUSKIES_MCP_SOCKET` holds confined or not.
      channel: socket ? { hostPath: socket, sandboxPath: socket } : undefined,
      limitPauseUtilization: project.limit_pause_utilization,
      onLog: (entry) => this.ctx.logs.append(this.storyId, { node: this.ctx.nodeId, slot: slot.name, ...entry }),
      onSignal: (sig) => {
        if (sig.kind === "session") this.sessionId = sig.sessionId;
        else if (sig.kind === "near-limit") this.ctx.health.nearLimit(sig.utilization, sig.resetsAt);
        // Pause at once: stopping the run can take seconds, and nothing new should start meanwhile.
        else if (sig.kind === "node-failure") {
          if (this.account && this.ctx.accounts && isAccountTrouble({ outcome: "node_failure", ...sig })) {
            this.ctx.accounts.trouble(this.account, { reason: sig.reason, resetsAt: sig.resetsAt, cause: sig.accountTrouble ?? "limit" });
            this.accountTroubleSignalled = true;
          } else this.ctx.health.nodeFailure(sig.reason, { resetsAt: sig.resetsAt });
        }
      },
    });
    // After the confinement's setup and the spawn: what claim → coder start really costs.
    this.ctx.log.info({ story: this.storyId, pid: this.running.pid }, "agent process started");
    this.ctx.worktrees?.refill();
    try {
      this.ctx.trackPid(this.storyId, this.running.pid);
    } catch (err) {
      // Unrecorded, the process would outlive a crash of this node unseen: stop it now.
      await this.running.stop("its pid could not be recorded");
      throw err;
    }
    this.ctx.pool.markRunning(this.storyId);
    const result = await this.running.done;
    this.ctx.trackPid(this.storyId, undefined);
    this.sessionId = result.sessionId ?? this.sessionId;
    this.ctx.metrics?.runFinished({ outcome: result.outcome, costUsd: result.costUsd, turns: result.turns });
    if (this.account) this.ctx.accounts?.spent(this.account, slot.runtime, result.costUsd);
    if (result.budget || /max_budget|budget exhausted/i.test(result.reason)) result.budget = true;
    this.note("info", `${slot.role} finished: ${result.ok ? "ok" : `${result.outcome}: ${result.error ?? result.reason}`}`);
    return result;
  }

  private sessionId: string | undefined;

  /** Nothing ran (a daily cap, every account paused): the claim goes back as it was, and nothing pauses. */
  private giveBack(reason: string): void {
    if (this.ctx.claims.release(this.token)) {
      this.note("info", `claim given back untouched: ${reason}`);
      this.ctx.log.info({ story: this.storyId, reason }, "claim given back before the run: no account or budget to run with");
    }
  }

  /** The node could not work (credentials, limits): the story goes back to the pool untouched, the node pauses. */
  private nodeFailed(result: RunResult): void {
    const error = result.error ?? result.reason;
    this.failed = true;
    // The account's trouble pauses the account (on every node); the node's own pauses the node.
    if (this.account && this.ctx.accounts && isAccountTrouble(result))
      this.ctx.accounts.trouble(this.account, {
        reason: error,
        resetsAt: result.resetsAt,
        cause: result.accountTrouble ?? (/credential|logged in/i.test(result.reason) ? "credentials" : "limit"),
        sameRun: this.accountTroubleSignalled,
      });
    else this.ctx.health.nodeFailure(error, { resetsAt: result.resetsAt });
    const patch: ItemPatch = { lastRun: this.lastRun(result), failure: { kind: "node_trouble", message: error.slice(0, 4000) } };
    if (this.ctx.claims.release(this.token, patch)) {
      this.note("info", `node failure, claim given back (no retry spent): ${error}`);
      this.ctx.log.warn({ story: this.storyId, reason: error }, "node failure: claim released, retries unchanged");
    }
  }

  protected lastRun(r: RunResult): LastRun {
    const s = this.slot;
    return {
      node: this.ctx.nodeId,
      slot: s.name,
      ...(this.account && !this.account.startsWith("@") ? { account: this.account } : {}),
      turns: r.turns,
      costUsd: r.costUsd,
      durationMs: r.durationMs,
      exit: r.exit,
      outcome: r.outcome,
      // The runtime that ran: a fallback account's may differ from the slot's (issue 28).
      runtime: (this.runSlot ?? s).runtime,
      ...(r.error ? { error: r.error.slice(0, 500) } : {}),
      ...((r.sessionId ?? this.sessionId) ? { sessionId: r.sessionId ?? this.sessionId } : {}),
    };
  }

  /**
   * The one outcome policy for a failed attempt: one retry is spent; at `max_retries` the item is
   * blocked with the reason. With `backTo` the item moves there (QA findings, merge conflicts go
   * back to `current`); without, it stays and the caller tries again while this returns true.
   */
  protected attemptFailed(failed: Failure, opts: { backTo?: Stage; patch?: ItemPatch } = {}): boolean {
    if (!this.stillMine()) return false;
    this.failed = true;
    const { kind, message: reason } = failed;
    const retries = this.item()!.retries + 1;
    const atLimit = retries >= this.ctx.config.project.max_retries;
    const failure: Failure = { kind, message: reason.slice(0, 4000) };
    const patch: ItemPatch = { ...opts.patch, retries, failure, blocked: atLimit ? headline(reason) : null };
    this.ctx.log.warn(
      { story: this.storyId, retries, blocked: atLimit, kind, reason: headline(reason) },
      opts.backTo ? `sent back to ${opts.backTo}` : "attempt failed",
    );
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

  /** An unexpected error (a bug, git refusing something): a failed attempt, and the claim is given back to be retried. */
  fail(reason: string): void {
    if (this.attemptFailed({ kind: "other", message: reason })) this.ctx.claims.release(this.token);
  }

  /** How this job's gates run in `cwd`: confined, under `[gates] sandbox`. */
  protected gateRun(cwd: string, ownBranch?: string): GateRun {
    return {
      cwd,
      storyId: this.storyId,
      projectRoot: this.ctx.root,
      baseBranch: this.ctx.baseBranch,
      ownBranch,
      mode: this.ctx.config.project.gates.sandbox,
      confinement: this.ctx.confinement,
    };
  }

  /**
   * The step failed because of this machine (a full disk, an unreachable origin, a vanished
   * folder, memory): the node's trouble, never the story's (see node-trouble-policy.ts).
   */
  nodeTrouble(trouble: NodeTrouble, patch: ItemPatch = {}): void {
    this.failed = true;
    const what = handBackForTrouble(this.ctx, this.token, trouble, patch);
    if (what === "stale") return;
    try {
      this.note(
        "info",
        `node trouble (${trouble.kind}): ${trouble.reason}; ${what === "blocked" ? "story blocked" : "claim given back, no retry spent"}`,
      );
    } catch {
      // The story log may be on the very disk that is full; the node's log has the line.
    }
  }

  /**
   * Trouble of this machine seen after a step in `dir` failed or ran: the folder vanished, its disk
   * is full, or the step's own words say the disk or memory ran out. Undefined: judge the story.
   */
  protected machineTrouble(dir: string, failureText?: string): NodeTrouble | undefined {
    const missing = this.missingWorktree(dir);
    if (missing) return missing;
    const said = failureText ? isNodeTrouble(failureText) : undefined;
    if (said && (said.kind === "disk_full" || said.kind === "out_of_memory")) return said;
    return diskFull(dir);
  }

  /** The step's folder vanished under it (deleted mid-run). */
  protected missingWorktree(dir: string): NodeTrouble | undefined {
    return existsSync(join(dir, ".git")) ? undefined : missingWorktree(dir);
  }

  /** A leftover of an earlier step (a stale lock, a half-made worktree) was cleaned before this one. */
  protected cleaned(what: string): void {
    this.ctx.log.warn({ story: this.storyId, what }, "cleaned a leftover before the step");
  }

  /** Whatever the work threw: the node's trouble when it is, else a failed attempt. */
  failedWith(err: unknown): void {
    const trouble = isNodeTrouble(err);
    if (trouble) return this.nodeTrouble(trouble);
    const message = err instanceof Error ? err.message : String(err);
    try {
      this.note("info", `job error: ${message}`);
    } catch (again) {
      this.ctx.log.error({ story: this.storyId, err: (again as Error).message }, "could not record the job failure in the story log");
    }
    this.fail(`job error: ${message}`);
  }

  protected get branch(): string {
    return featureBranch(this.storyId);
  }
}
