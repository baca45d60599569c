import type { Logger } from "pino";
import { hashWinner, hasSlotFor, ROLE_STAGE } from "../pipeline/claim-rules.js";
import { ROLES } from "../pipeline/roles.js";
import type { Stage } from "../pipeline/stages.js";
import type { LiveConfig } from "../config/live-config.js";
import { ClaimView, claimTimings } from "../state/claim-view.js";
import type { Claims } from "../state/claims.js";
import type { Item } from "../state/item.js";
import { reservedFor } from "../pipeline/conflict-rounds.js";
import { CollisionAvoidance, type FilesOf } from "./collision-avoidance.js";
import { grantMerges } from "./merge-grants.js";

const NOTHING_KNOWN: FilesOf = () => undefined;

/** A pass this many scan intervals late means the process was stopped, not that it was idle. */
const STOPPED_AFTER_SCANS = 2;

/** Stages where nothing is claimed: requests there are dropped. */
const UNCLAIMABLE = new Set(["backlog", "done", "archived"]);

/**
 * The rendezvous side of claiming: agents write requests under their own node id; this grants
 * each unclaimed item to one live requester, raising the item's epoch. Runs on every document
 * change, over the requested items only (an index), so a grant follows a request within one
 * sync round trip whatever the size of the project.
 *
 * Landing parallel work (issue 29): a conflict round waits for the node whose session wrote the
 * code; a coder asking for a story that overlaps one in flight gets one that overlaps nothing
 * instead, when there is one (`avoid_collisions`); stories in `merge` are granted in the merge
 * queue's order, one merge at a time.
 */
export class ClaimSequencer {
  /** Items in `current` already considered for an offer (each once per entry; see `offer`). */
  private readonly seen = new Set<string>();

  constructor(
    private readonly claims: Claims,
    private readonly config: LiveConfig,
    private readonly log: Logger,
    /** Whether a node has a live sync link to this rendezvous now; without it nothing is offered. */
    private readonly linked?: (nodeId: string) => boolean,
    /** The files each story's pushed branch changed, as far as known (touched-files.ts). */
    private readonly files: FilesOf = NOTHING_KNOWN,
  ) {}

  /** Set when the stories in flight changed: waiting stories' `overlaps` are looked at again. */
  private notesDirty = true;

  /** A story entered or left flight, or a branch's files were read (see RendezvousService). */
  inFlightChanged(): void {
    this.notesDirty = true;
  }

  private avoidance(view: ClaimView): CollisionAvoidance {
    return new CollisionAvoidance(this.claims.pipeline, view, this.files, this.affinity(view));
  }

  private affinity(view: ClaimView) {
    return { nodeAliveMs: view.timings.nodeAliveMs, affinityMs: this.config.project.conflict_affinity_secs * 1000 };
  }

  /** The node an open conflict round waits for, if any (conflict-rounds.ts). */
  private author(item: Item, view: ClaimView): string | undefined {
    return item.conflict ? reservedFor(item, (id) => view.nodes.get(id), view.now, this.affinity(view)) : undefined;
  }

  /** This node's monotonic time at its last pass (see `noticeStop`). */
  private lastPass: number | undefined;

  /**
   * Passes run on every change and at least every scan interval (RendezvousService's timer); one
   * far later than that means this process was stopped (SIGSTOP, a paused VM) and heard nobody
   * meanwhile. Woken, it would otherwise take every holder for silent for as long as it slept and
   * grant their stories again before their next heartbeat arrived (simulation seed 568).
   */
  private noticeStop(): void {
    const receipts = this.claims.pipeline.receipts;
    const mono = this.claims.pipeline.clock.monotonic();
    const late = STOPPED_AFTER_SCANS * this.config.project.scan_interval_secs * 1000;
    if (this.lastPass !== undefined && mono - this.lastPass > late) {
      receipts.resumed(mono);
      this.log.warn(
        { stoppedSecs: Math.round((mono - this.lastPass) / 1000) },
        "this rendezvous was stopped: holders' silence counts from now",
      );
    }
    this.lastPass = mono;
  }

  /** Grant what was asked for (and offer what nobody asked for yet); returns the nodes granted to. */
  grant(now = this.claims.pipeline.clock.now()): string[] {
    this.noticeStop();
    // Liveness on this node's monotonic clock (receipts); `now` only stamps the grants.
    const view = new ClaimView(this.claims.pipeline, claimTimings(this.config.project));
    const granted: string[] = [];
    const free = new Map<Stage, Set<string>>();
    const avoid = this.avoidance(view);
    const avoiding = this.config.project.avoid_collisions;
    let merges = false;
    for (const item of this.claims.pipeline.listRequested()) {
      // Blocked or finished items, or ones already held: drop the requests so the askers look elsewhere.
      if (item.blocked || UNCLAIMABLE.has(item.stage) || view.live(item)) {
        this.claims.clearRequests(item.id);
        continue;
      }
      // Merges are granted below, in the queue's order.
      if (item.stage === "merge") {
        merges = true;
        continue;
      }
      // Only nodes with a slot for this stage's role: a request left over from the stage the item
      // just left (a coder's, standing in `qa`) is for work the node will not do here.
      let asking = Object.keys(item.requests).filter((r) => view.alive(r) && hasSlotFor(view.nodes.get(r)?.capacity, item.stage));
      // A conflict round is for the session that wrote the code while its node can take it.
      const author = this.author(item, view);
      if (author) asking = asking.includes(author) ? [author] : [];
      // A node may ask while its last job is finishing (see WorkLoop.request): one with a free slot
      // now goes first, so the item never waits for a busy node while an idle one asked too.
      if (asking.length > 1) {
        const idle = asking.filter((r) => this.freeFor(item.stage, view, free).has(r));
        if (idle.length) asking = idle;
      }
      const winner = hashWinner(asking, item.id);
      if (!winner) continue;
      // A story overlapping one in flight waits while another can go instead (no starvation: with
      // nothing else waiting, it is granted).
      const target = avoiding && item.stage === "current" && !author ? (avoid.instead(item, winner) ?? item) : item;
      const token = this.claims.grant(target.id, winner, now);
      if (target !== item) {
        this.claims.withdraw(item.id, winner);
        this.log.debug({ story: target.id, instead: item.id, node: winner.slice(0, 12) }, "claim granted instead of an overlapping story");
      } else this.log.debug({ story: item.id, node: winner.slice(0, 12), epoch: token?.epoch }, "claim granted");
      avoid.started(target);
      granted.push(winner);
    }
    // Every story waiting in `current` says whether it overlaps one in flight (the board shows it).
    if ((this.notesDirty || granted.length) && avoiding) {
      this.notesDirty = false;
      for (const y of this.claims.pipeline.listItemsIn(["current"]))
        if (!y.blocked && !y.conflict && !view.live(y)) avoid.note(y, avoid.overlapOf(y));
    }
    if (merges) {
      const p = this.config.project;
      const idle = this.freeFor("merge", view, free);
      granted.push(...grantMerges(this.claims, view, { files: this.files, batch: p.merge.batch, avoid, idle, now }));
    }
    return this.linked ? [...granted, ...this.offer(view, now, undefined, avoid)] : granted;
  }

  /**
   * Grant without a request (issue 15.3): an item that enters `current` unclaimed and unrequested
   * goes at once to the best-placed idle coder (lowest claim hash, as the request rule would pick)
   * among the nodes linked to this rendezvous right now. That saves the agents' pass and request
   * round trip, about half of claim → coder start. Only linked nodes (one that stopped a moment ago
   * would hold the claim until claim_timeout_secs), only with a free coder slot as the document
   * tells, and decided once, when the item is first seen in `current`: a node that cannot take it
   * after all gives it back, and the usual requests take over.
   */
  private offer(view: ClaimView, now: number, only?: readonly string[], avoid = this.avoidance(view)): string[] {
    const pipeline = this.claims.pipeline;
    const current = pipeline.idsIn("current");
    for (const id of this.seen) if (!current.has(id) && !only?.includes(id)) this.seen.delete(id);
    if (!only && this.seen.size >= current.size) return [];
    const inCurrent = pipeline.listItemsIn(["current"]);
    const candidates = only ? only.map((id) => pipeline.getItem(id)).filter((i): i is Item => i?.stage === "current") : inCurrent;
    let free: Map<string, number> | undefined;
    const granted: string[] = [];
    for (const item of candidates) {
      if (this.seen.has(item.id)) continue;
      this.seen.add(item.id);
      if (item.blocked || view.live(item) || Object.keys(item.requests).length) continue;
      free ??= this.freeCoders(view, inCurrent);
      if (!free.size) continue;
      // A conflict round goes only to its author node (which asks for it once a slot frees).
      const author = this.author(item, view);
      if (author && !free.has(author)) continue;
      const winner = author ?? hashWinner([...free.keys()], item.id)!;
      const target = this.config.project.avoid_collisions && !author ? (avoid.instead(item, winner) ?? item) : item;
      const token = this.claims.grant(target.id, winner, now);
      this.log.debug({ story: target.id, node: winner.slice(0, 12), epoch: token?.epoch }, "claim offered");
      avoid.started(target);
      granted.push(winner);
      const left = free.get(winner)! - 1;
      if (left > 0) free.set(winner, left);
      else free.delete(winner);
    }
    return granted;
  }

  /**
   * Offer the item that just entered `current` at once, inside the write that put it there: the
   * creation and the claim then reach the agents as one update, so each wakes up once and the
   * winner starts its coder on the first frame it reads.
   */
  offerNow(id: string, now = this.claims.pipeline.clock.now()): string[] {
    if (!this.linked) return [];
    return this.offer(new ClaimView(this.claims.pipeline, claimTimings(this.config.project)), now, [id]);
  }

  /** Nodes with a free slot for the role of `stage` as the document tells (computed once per pass). */
  private freeFor(stage: Stage, view: ClaimView, memo: Map<Stage, Set<string>>): Set<string> {
    let set = memo.get(stage);
    if (!set) {
      const role = ROLES.find((r) => ROLE_STAGE[r] === stage)!;
      set = new Set(view.withSlots(role, { claimed: this.claims.pipeline.listItemsIn([stage]) }));
      memo.set(stage, set);
    }
    return set;
  }

  /** Linked nodes with free coder slots, and how many, as the document tells. */
  private freeCoders(view: ClaimView, inCurrent: readonly Item[]): Map<string, number> {
    const held = new Map<string, number>();
    for (const i of inCurrent) if (view.live(i)) held.set(i.claim!.node, (held.get(i.claim!.node) ?? 0) + 1);
    const free = new Map<string, number>();
    for (const id of view.withSlots("coder", { claimed: inCurrent })) {
      if (this.linked!(id)) free.set(id, (view.nodes.get(id)?.capacity.coder ?? 0) - (held.get(id) ?? 0));
    }
    return free;
  }
}
