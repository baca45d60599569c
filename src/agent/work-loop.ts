import type { AgentSlot } from "../config/agents-config.js";
import { ROLES, type Role } from "../pipeline/roles.js";
import { claimHash, hashWinner, preferredOrder, ROLE_STAGE } from "../pipeline/claim-rules.js";
import { reservedFor } from "../pipeline/conflict-rounds.js";
import type { Item } from "../state/item.js";
import { ClaimView, claimTimings } from "../state/claim-view.js";
import type { ClaimToken } from "../state/claims.js";
import { removeWorktreeIfSafe } from "../git/worktree.js";
import { coalesce, every } from "../util/coalesce.js";
import { CoderJob } from "./coder-job.js";
import type { JobContext } from "./job-context.js";
import { MergeJob } from "./merge-job.js";
import { QaJob } from "./qa-job.js";
import { StepStarts } from "./step-starts.js";
import { BaseRefresh } from "./base-refresh.js";
import type { RendezvousWatch } from "./rendezvous-watch.js";
import type { StoryJob } from "./story-job.js";

/** How many of the best-placed idle nodes ask for a new item (see `request`). */
const REQUEST_FANOUT = 2;

/** This node's place (0 = first) among `nodes` for `storyId` by claim hash. */
function rankOf(me: string, nodes: string[], storyId: string): number {
  const mine = claimHash(me, storyId);
  let rank = 0;
  for (const n of nodes) if (n !== me && claimHash(n, storyId) < mine) rank += 1;
  return rank;
}

export interface WorkLoopHooks {
  /** False while the node is paused: it finishes what runs but takes nothing new. */
  acceptsWork(): boolean;
  /** A worktree was kept (or is gone) after its story was archived. */
  worktreeKept(id: string, state: string | undefined): void;
  /** Makes the job for a grant; the real coder/QA/merge jobs unless a test says otherwise. */
  createJob?(ctx: JobContext, token: ClaimToken, slot: AgentSlot, role: Role): StoryJob;
}

const JOBS = { coder: CoderJob, qa: QaJob, mergemaster: MergeJob } as const;

function defaultJob(ctx: JobContext, token: ClaimToken, slot: AgentSlot, role: Role): StoryJob {
  return new JOBS[role](ctx, token, slot, role);
}

/**
 * The build-agent loop (docs/architecture.md §7). Reacts to every document change (the periodic scan
 * is only a backstop): detect lost claims, ask for work or (autonomous) claim it, start jobs for
 * claims that name this node.
 */
export class WorkLoop {
  readonly jobs = new Map<string, StoryJob>();
  private accepting = true;
  private stopTimer: () => void = () => undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly pass_: ReturnType<typeof coalesce>;
  private readonly base: BaseRefresh;
  /** Grants kept for a slot that is about to free (as of the last pass). */
  private readonly held = new Set<string>();
  /** Rule 2's breaker: a failing step is never restarted in a loop. */
  private readonly starts: StepStarts;

  constructor(
    private readonly ctx: JobContext,
    private readonly rendezvous: RendezvousWatch | undefined,
    private readonly hooks: WorkLoopHooks,
  ) {
    this.pass_ = coalesce(() => this.pass(), ctx.log, "agent pass");
    this.base = new BaseRefresh(ctx);
    const cfg = () => ctx.config.project;
    this.starts = new StepStarts(
      () => ({ minMs: cfg().restart_backoff_secs * 1000, maxMs: cfg().restart_max_secs * 1000 }),
      () => this.schedule(),
      () => ctx.pipeline.clock.monotonic(),
    );
  }

  start(): void {
    const p = this.ctx.pipeline;
    this.unsubscribe.push(p.onChange(() => this.schedule()));
    this.unsubscribe.push(
      p.onStageChange((ev) => {
        // A merge moved the base branch on origin: fetch it now, off the claim path.
        if (ev.to === "done") this.refreshBase();
        if (ev.to === "archived" || ev.to === undefined) this.cleanUp(ev.id);
      }),
    );
    const onConfig = () => {
      this.ctx.pool.configure(this.ctx.config.agents.agent, this.ctx.config.project.max_coders);
      this.restartTimer();
      this.schedule();
    };
    this.ctx.config.on("change", onConfig);
    this.unsubscribe.push(() => this.ctx.config.off("change", onConfig));
    this.restartTimer();
    this.refreshBase();
    this.schedule();
  }

  schedule(): void {
    this.pass_.schedule();
  }

  private restartTimer(): void {
    this.stopTimer();
    this.stopTimer = every(this.ctx.config.project.scan_interval_secs * 1000, this.ctx.log, "agent scan", () => {
      this.refreshBase();
      this.schedule();
    });
  }

  /** Keep origin's refs fresh in the background (see base-refresh.ts). */
  refreshBase(): void {
    this.base.refresh();
  }

  /** Best effort, never blocking the loop; a worktree that holds work is kept and reported. */
  private cleanUp(id: string): void {
    removeWorktreeIfSafe(this.ctx.root, id).then(
      (r) => {
        if (r.removed) this.ctx.log.info({ story: id }, "archived: worktree removed");
        else if (r.state) this.ctx.log.warn({ story: id, state: r.state }, "archived: worktree kept (it holds work)");
        if (r.state) this.hooks.worktreeKept(id, r.removed ? undefined : r.state);
      },
      (err) => this.ctx.log.warn({ story: id, err: (err as Error).message }, "archived: could not check the worktree"),
    );
  }

  private sequenced(): boolean {
    return !this.rendezvous || this.rendezvous.reachable(this.ctx.config.project.autonomous_after_secs * 1000);
  }

  pass(now = this.ctx.pipeline.clock.now()): void {
    this.detectConflicts();
    if (!this.accepting) return;
    const cfg = this.ctx.config.project;
    // Liveness on this node's monotonic clock (heartbeat receipts); `now` stamps requests and claims.
    const view = new ClaimView(this.ctx.pipeline, claimTimings(cfg));
    const roles = ROLES.filter((r) => this.ctx.pool.capacity(r) > 0);
    const items = this.ctx.pipeline.listItemsIn(roles.map((r) => ROLE_STAGE[r]));
    const sequenced = this.sequenced();
    const acceptsWork = this.hooks.acceptsWork();
    this.held.clear();
    for (const role of roles) {
      const stage = ROLE_STAGE[role];
      const inStage = items.filter((i) => i.stage === stage && !i.blocked && this.serves(role, i));
      const soon = this.finishing(role);
      let kept = 0;
      for (const item of inStage) {
        if (item.claim?.node !== this.ctx.nodeId || this.jobs.has(item.id) || !view.live(item)) continue;
        // Paused (node trouble, a limit, an operator): a grant that arrives now is new work,
        // and starting it would meet the same trouble. Give it back for another node.
        if (!acceptsWork) {
          const token = this.ctx.claims.tokenOf(item.id, this.ctx.nodeId);
          if (token && this.ctx.claims.release(token)) this.ctx.log.info({ story: item.id }, "paused: grant given back unstarted");
          continue;
        }
        // A claim whose step may not start yet is kept; the breaker schedules the pass.
        if (this.starts.holds(item.id, item.stage)) continue;
        const token = this.ctx.claims.tokenOf(item.id, this.ctx.nodeId)!;
        // A paused node starts nothing new, whoever granted it (issue 27: a grant it did not ask
        // for must not make a paused node run a coder): it gives the claim back.
        if (!acceptsWork) {
          this.ctx.log.warn({ story: item.id, epoch: token.epoch }, "paused: giving back a claim instead of starting it");
          this.ctx.claims.release(token);
          continue;
        }
        // Granted while every slot is busy but one is about to free: keep it for that slot.
        if (this.ctx.pool.free(role) === 0 && kept < soon) {
          kept += 1;
          this.held.add(item.id);
        } else this.startJob(role, token);
      }
      if (!acceptsWork) continue;
      if (sequenced) this.request(role, inStage, view, now, soon - kept);
      else this.claimAutonomously(role, inStage, view, now);
    }
  }

  /** Jobs of `role` in their last short step (see `StoryJob.finishing`). */
  private finishing(role: Role): number {
    let n = 0;
    for (const job of this.jobs.values()) if (job.role === role && job.finishing && !job.stopped) n += 1;
    return n;
  }

  private serves(role: Role, item: Item): boolean {
    if (role !== "qa") return true;
    return (item.qa ?? this.ctx.config.project.default_qa) === "agent";
  }

  /**
   * Ask the sequencer for as many unclaimed items as there are free slots, plus `soon`: slots whose
   * job is in its last short step, so the next grant is there when the slot frees instead of one
   * round trip later (the sequencer prefers requesters with a free slot). To avoid a thundering
   * herd (every idle node asking for every new item), a node asks only for items where it ranks
   * among the first REQUEST_FANOUT idle nodes by sha256(node ‖ story); an item nobody has taken
   * within a scan interval is open to everyone (covers a preferred node that is gone but not yet
   * dead). The sequencer still decides, so this only shapes traffic, never correctness.
   */
  private request(role: Role, inStage: Item[], view: ClaimView, now: number, soon: number): void {
    const me = this.ctx.nodeId;
    const slots = this.ctx.pool.free(role) + soon;
    // No slot to fill (a busy node on every other node's change): skip the scan.
    if (slots <= 0) return;
    // A step in backoff on this node (start-breaker.ts) is left to the others, and so is a conflict
    // round waiting for the node that wrote its code.
    const open = inStage.filter(
      (i) => !view.live(i) && !this.jobs.has(i.id) && this.starts.delay(i.id, i.stage) === 0 && this.authorOf(i, view, now) !== false,
    );
    // Nothing to ask for (the usual case on a heartbeat): skip ranking against the whole fleet.
    if (open.length === 0) return;
    const asked = open.filter((i) => i.requests[me] !== undefined).length;
    let want = slots - asked;
    // Rounds waiting for this node go first: the queue behind them waits on them. Room is made by
    // taking back an ordinary request the sequencer has not granted yet.
    for (const round of open.filter((i) => this.authorOf(i, view, now) === true && i.requests[me] === undefined)) {
      if (want <= 0) {
        const ordinary = open.find((i) => i.requests[me] !== undefined && this.authorOf(i, view, now) === undefined);
        if (!ordinary) break;
        this.ctx.claims.withdraw(ordinary.id, me);
        want += 1;
      }
      this.ctx.claims.request(round.id, me, now);
      want -= 1;
    }
    if (want <= 0) return;
    let idle: string[] | undefined;
    const staleMs = this.ctx.config.project.scan_interval_secs * 1000;
    const mine = (i: Item) => {
      if (now - i.stageAt >= staleMs) return true;
      idle ??= [...view.withSlots(role, { claimed: inStage }).filter((n) => n !== me), me];
      return rankOf(me, idle, i.id) < REQUEST_FANOUT;
    };
    const unasked = open
      .filter((i) => i.requests[me] === undefined && mine(i) && this.authorOf(i, view, now) === undefined)
      .map((i) => i.id);
    for (const id of preferredOrder(me, unasked)) {
      if (want-- <= 0) break;
      this.ctx.claims.request(id, me, now);
    }
  }

  /**
   * Whether an open conflict round waits for this node (true), for another (false), or for nobody
   * (undefined): the session that wrote the code resumes it while its node can (issue 29.1).
   */
  private authorOf(item: Item, view: ClaimView, now: number): boolean | undefined {
    if (!item.conflict) return undefined;
    const affinity = { nodeAliveMs: view.timings.nodeAliveMs, affinityMs: this.ctx.config.project.conflict_affinity_secs * 1000 };
    const author = reservedFor(item, (id) => view.nodes.get(id), now, affinity);
    return author === undefined ? undefined : author === this.ctx.nodeId;
  }

  /**
   * Without the sequencer: claim an item when this node has the lowest sha256(node ‖ story)
   * among the live nodes that have slots for the role. Eligibility deliberately ignores how busy
   * a node is right now: that changes from moment to moment and two replicas may disagree on it,
   * while "alive with slots" is stable, so nodes that see each other agree on one winner (it takes
   * the item when a slot frees up). Partitions may both claim; after they meet the CRDT keeps one
   * claim and `detectConflicts` stops the other coder.
   */
  private claimAutonomously(role: Role, inStage: Item[], view: ClaimView, now: number): void {
    let free = this.ctx.pool.free(role);
    if (free <= 0) return;
    const eligible = view.withSlots(role).filter((n) => n !== this.ctx.nodeId && view.nodes.get(n)?.role !== "rendezvous");
    eligible.push(this.ctx.nodeId);
    for (const item of inStage) {
      if (free <= 0) break;
      if (view.live(item) || this.jobs.has(item.id) || this.starts.delay(item.id, item.stage) > 0) continue;
      // A conflict round is its author's (every node computes the same from the document).
      const author = this.authorOf(item, view, now);
      if (author === false || (author === undefined && hashWinner(eligible, item.id) !== this.ctx.nodeId)) continue;
      const token = this.ctx.claims.grant(item.id, this.ctx.nodeId, now);
      if (!token) continue;
      this.ctx.log.info({ story: item.id, epoch: token.epoch }, "claimed autonomously (rendezvous unreachable)");
      this.ctx.metrics?.claimGranted();
      free -= 1;
      this.startJob(role, token);
    }
  }

  private startJob(role: Role, token: ClaimToken): void {
    const slot = this.ctx.pool.acquire(role, token.id);
    if (!slot) {
      // More grants than free slots (config shrank meanwhile): give the item back.
      this.ctx.claims.release(token);
      return;
    }
    this.starts.started(token.id, token.stage);
    const job = (this.hooks.createJob ?? defaultJob)(this.ctx, token, slot, role);
    job.onFinishing = () => this.schedule();
    this.jobs.set(token.id, job);
    const claimAt = this.ctx.pipeline.getItem(token.id)?.claim?.at;
    if (claimAt !== undefined) this.ctx.metrics?.claimToStart(Math.max(0, Date.now() - claimAt));
    this.ctx.log.info({ story: token.id, node: this.ctx.nodeId, slot: slot.name, role, epoch: token.epoch }, "job started");
    const started = Date.now();
    let failed = false;
    job
      .work()
      .catch((err: unknown) => {
        failed = true;
        const message = err instanceof Error ? err.message : String(err);
        this.ctx.log.error({ story: token.id, err: message }, "job failed");
        try {
          // The node's trouble (a full disk, an unreachable origin, …) or a failed attempt.
          job.failedWith(err);
        } catch (again) {
          this.ctx.log.error({ story: token.id, err: (again as Error).message }, "could not record the job failure");
        }
      })
      .finally(() => {
        this.starts.ended(token.id, token.stage, failed || job.failed);
        this.ctx.log.info({ story: token.id, node: this.ctx.nodeId, role, ms: Date.now() - started, stopped: job.stopped }, "job finished");
        this.jobs.delete(token.id);
        this.ctx.pool.release(token.id, job.stopped ? "stopped" : failed ? "failed" : "completed");
        this.schedule();
      });
  }

  /** A job whose claim no longer names this node (with its epoch, in its stage) is stopped at once. */
  detectConflicts(): void {
    for (const job of this.jobs.values()) {
      if (job.stopped || job.stillMine()) continue;
      const item = this.ctx.pipeline.getItem(job.storyId);
      const reason = !item
        ? "item deleted"
        : item.claim
          ? `claim now held by ${item.claim.node.slice(0, 12)} (epoch ${item.claim.epoch})`
          : `claim released (stage ${item.stage})`;
      this.ctx.log.warn({ story: job.storyId, reason }, "claim lost: stopping coder, keeping worktree");
      void job.stop(reason);
    }
  }

  running(): string[] {
    return [...this.jobs.keys()];
  }

  /** Stop claiming, stop every job (confirmed gone), give claims and requests back. */
  async stop(): Promise<void> {
    this.accepting = false;
    this.stopTimer();
    this.starts.stop();
    this.pass_.cancel();
    for (const u of this.unsubscribe.splice(0)) u();
    const jobs = [...this.jobs.values()];
    await Promise.all(jobs.map((j) => j.stop("node shutting down")));
    for (const j of jobs) this.ctx.claims.release(j.token);
    for (const id of this.held) {
      const token = this.ctx.claims.tokenOf(id, this.ctx.nodeId);
      if (token && !this.jobs.has(id)) this.ctx.claims.release(token);
    }
    const me = this.ctx.nodeId;
    for (const item of this.ctx.pipeline.listRequested()) this.ctx.claims.withdraw(item.id, me);
  }
}
