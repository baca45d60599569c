import type { Logger } from "pino";
import { ROLES, type Role } from "../pipeline/roles.js";
import { claimHash, hashWinner, nextClaim, preferredOrder, ROLE_STAGE } from "../pipeline/claim-rules.js";
import type { Item } from "../state/item.js";
import { removeWorktree } from "../git/worktree.js";
import { fetchOrigin } from "../git/git.js";
import type { ActorRun } from "./actor-run.js";
import { ClaimView } from "./claim-view.js";
import { CoderJob } from "./coder-job.js";
import type { JobContext } from "./job-context.js";
import { MergeJob } from "./merge-job.js";
import { QaJob } from "./qa-job.js";
import type { RendezvousWatch } from "./rendezvous-watch.js";

/** How many of the best-placed idle nodes ask for a new item (see `request`). */
const REQUEST_FANOUT = 2;

/** Live nodes with a free slot for `role`, as far as the claims in the document tell (always including this node). */
function idleNodes(role: Role, inStage: Item[], view: ClaimView, me: string): string[] {
  const held = new Map<string, number>();
  for (const i of inStage) if (view.live(i)) held.set(i.claim!.node, (held.get(i.claim!.node) ?? 0) + 1);
  const ids = [...view.nodes.values()]
    .filter((n) => n.id !== me && view.alive(n.id) && (n.capacity?.[role] ?? 0) > (held.get(n.id) ?? 0))
    .map((n) => n.id);
  return [...ids, me];
}

/** This node's place (0 = first) among `nodes` for `storyId` by claim hash. */
function rankOf(me: string, nodes: string[], storyId: string): number {
  const mine = claimHash(me, storyId);
  return nodes.filter((n) => n !== me && claimHash(n, storyId) < mine).length;
}

/**
 * The build-agent loop (DESIGN section 7). Reacts to every document change (the periodic scan
 * is only a backstop): detect lost claims, ask for work or (autonomous) claim it, start jobs for
 * claims that name this node.
 */
export class BuildAgent {
  readonly jobs = new Map<string, ActorRun>();
  private accepting = true;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly log: Logger;

  constructor(private readonly ctx: JobContext, private readonly rendezvous: RendezvousWatch | undefined) {
    this.log = ctx.log;
  }

  start(): void {
    const p = this.ctx.pipeline;
    this.unsubscribe.push(p.onChange(() => this.schedule()));
    this.unsubscribe.push(p.onStageChange((ev) => {
      // A merge moved the base branch on origin: fetch it now, off the claim path.
      if (ev.to === "done") this.refreshBase();
      if (ev.to === "archived") {
        // Best effort, never blocking the loop.
        removeWorktree(this.ctx.root, ev.id).then(
          () => this.log.info({ story: ev.id }, "archived: worktree removed"),
          (err) => this.log.warn({ story: ev.id, err: (err as Error).message }, "archived: could not remove worktree"));
      }
    }));
    this.ctx.config.on("change", () => {
      this.ctx.pool.configure(this.ctx.config.agents.agent, this.ctx.config.project.max_coders);
      this.restartTimer();
      this.schedule();
    });
    this.restartTimer();
    this.refreshBase();
    this.schedule();
  }

  private restartTimer(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      this.refreshBase();
      this.schedule();
    }, this.ctx.config.project.scan_interval_secs * 1000);
    this.timer.unref();
  }

  private fetching = false;

  /** Keep origin's refs fresh in the background, so new worktrees start from a recent base without a fetch. */
  refreshBase(): void {
    if (this.fetching) return;
    this.fetching = true;
    fetchOrigin(this.ctx.root)
      .catch((err) => this.log.warn({ err: (err as Error).message }, "background fetch failed"))
      .finally(() => { this.fetching = false; });
  }

  /** Coalesce bursts of document events into one pass. */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      try {
        this.pass();
      } catch (err) {
        this.log.error({ err }, "agent pass failed");
      }
    });
  }

  private sequenced(): boolean {
    return !this.rendezvous || this.rendezvous.reachable(this.ctx.config.project.autonomous_after_secs * 1000);
  }

  pass(now = Date.now()): void {
    this.detectConflicts();
    if (!this.accepting) return;
    const view = new ClaimView(this.ctx.pipeline, this.ctx.config.project, now);
    const roles = ROLES.filter((r) => this.ctx.pool.capacity(r) > 0);
    const items = this.ctx.pipeline.listItemsIn(roles.map((r) => ROLE_STAGE[r]));
    const sequenced = this.sequenced();
    for (const role of roles) {
      const stage = ROLE_STAGE[role];
      const inStage = items.filter((i) => i.stage === stage && !i.blocked && this.serves(role, i));
      for (const item of inStage) {
        if (item.claim?.node === this.ctx.nodeId && view.live(item) && !this.jobs.has(item.id)) this.startJob(role, item);
      }
      if (sequenced) this.request(role, inStage, view, now);
      else this.claimAutonomously(role, inStage, view, now);
    }
  }

  private serves(role: Role, item: Item): boolean {
    if (role !== "qa") return true;
    return (item.qa ?? this.ctx.config.project.default_qa) === "agent";
  }

  /**
   * Ask the sequencer for as many unclaimed items as there are free slots. To avoid a thundering
   * herd (every idle node asking for every new item), a node asks only for items where it ranks
   * among the first REQUEST_FANOUT idle nodes by sha256(node ‖ story); an item nobody has taken
   * within a scan interval is open to everyone (covers a preferred node that is gone but not yet
   * dead). The sequencer still decides, so this only shapes traffic, never correctness.
   */
  private request(role: Role, inStage: Item[], view: ClaimView, now: number): void {
    const me = this.ctx.nodeId;
    const open = inStage.filter((i) => !view.live(i) && !this.jobs.has(i.id));
    const asked = open.filter((i) => i.requests[me] !== undefined).length;
    let want = this.ctx.pool.free(role) - asked;
    if (want <= 0) return;
    const idle = idleNodes(role, inStage, view, me);
    const staleMs = this.ctx.config.project.scan_interval_secs * 1000;
    const mine = (i: Item) => now - i.stageAt >= staleMs || rankOf(me, idle, i.id) < REQUEST_FANOUT;
    const unasked = open.filter((i) => i.requests[me] === undefined && mine(i)).map((i) => i.id);
    for (const id of preferredOrder(me, unasked)) {
      if (want-- <= 0) break;
      this.ctx.pipeline.setRequest(id, me, now);
    }
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
    const stage = ROLE_STAGE[role];
    const eligible = [...view.nodes.values()]
      .filter((n) => n.id !== this.ctx.nodeId && view.alive(n.id) && n.role !== "rendezvous" && (n.capacity?.[role] ?? 0) > 0)
      .map((n) => n.id);
    eligible.push(this.ctx.nodeId);
    for (const item of inStage) {
      if (free <= 0) break;
      if (view.live(item) || this.jobs.has(item.id)) continue;
      if (hashWinner(eligible, item.id) !== this.ctx.nodeId) continue;
      const claim = nextClaim(this.ctx.nodeId, item.epoch, stage, now);
      this.ctx.pipeline.update(item.id, { claim, epoch: claim.epoch });
      this.log.info({ story: item.id, epoch: claim.epoch }, "claimed autonomously (rendezvous unreachable)");
      free -= 1;
      this.startJob(role, this.ctx.pipeline.getItem(item.id)!);
    }
  }

  private startJob(role: Role, item: Item): void {
    const slot = this.ctx.pool.acquire(role, item.id);
    if (!slot) {
      // More grants than free slots (config shrank meanwhile): give the item back.
      this.ctx.pipeline.update(item.id, { claim: null });
      return;
    }
    const Job = role === "coder" ? CoderJob : role === "qa" ? QaJob : MergeJob;
    const job = new Job(this.ctx, item.id, slot, role, item.claim!.epoch, item.stage);
    this.jobs.set(item.id, job);
    this.log.info({ story: item.id, node: this.ctx.nodeId, slot: slot.name, role, epoch: item.claim!.epoch }, "job started");
    const started = Date.now();
    job.work()
      .catch((err) => {
        this.log.error({ story: item.id, err: (err as Error).message }, "job failed");
        this.ctx.logs.append(item.id, { node: this.ctx.nodeId, kind: "info", text: `job error: ${(err as Error).message}` });
        job.fail(`job error: ${(err as Error).message}`);
      })
      .finally(() => {
        this.log.info({ story: item.id, node: this.ctx.nodeId, role, ms: Date.now() - started, stopped: job.stopped }, "job finished");
        this.jobs.delete(item.id);
        this.ctx.pool.release(item.id, job.stopped ? "stopped" : "completed");
        this.schedule();
      });
  }

  /** A job whose claim no longer names this node (with its epoch, in its stage) is stopped at once. */
  detectConflicts(): void {
    for (const job of this.jobs.values()) {
      if (!job.stopped && !job.stillMine()) {
        const item = this.ctx.pipeline.getItem(job.storyId);
        const reason = !item ? "item deleted" : item.claim ? `claim now held by ${item.claim.node.slice(0, 12)} (epoch ${item.claim.epoch})` : `claim released (stage ${item.stage})`;
        this.log.warn({ story: job.storyId, reason }, "claim lost: stopping coder, keeping worktree");
        void job.stop(reason);
      }
    }
  }

  running(): string[] {
    return [...this.jobs.keys()];
  }

  /** Stop claiming, stop every job (confirmed gone), give claims back. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    clearInterval(this.timer);
    for (const u of this.unsubscribe) u();
    const jobs = [...this.jobs.values()];
    await Promise.all(jobs.map((j) => j.stop("node shutting down")));
    for (const j of jobs) {
      const item = this.ctx.pipeline.getItem(j.storyId);
      if (item?.claim?.node === this.ctx.nodeId && item.claim.epoch === j.epoch) this.ctx.pipeline.update(j.storyId, { claim: null });
    }
    const me = this.ctx.nodeId;
    for (const item of this.ctx.pipeline.listRequested()) if (item.requests[me] !== undefined) this.ctx.pipeline.setRequest(item.id, me, null);
  }
}
