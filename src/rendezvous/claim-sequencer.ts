import type { Logger } from "pino";
import { hashWinner, ROLE_STAGE } from "../pipeline/claim-rules.js";
import { ROLES } from "../pipeline/roles.js";
import type { Stage } from "../pipeline/stages.js";
import type { LiveConfig } from "../config/live-config.js";
import { ClaimView, claimTimings } from "../state/claim-view.js";
import type { Claims } from "../state/claims.js";
import type { Item } from "../state/item.js";

/** Stages where nothing is claimed: requests there are dropped. */
const UNCLAIMABLE = new Set(["backlog", "done", "archived"]);

/**
 * The rendezvous side of claiming: agents write requests under their own node id; this grants
 * each unclaimed item to one live requester, raising the item's epoch. Runs on every document
 * change, over the requested items only (an index), so a grant follows a request within one
 * sync round trip whatever the size of the project.
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
  ) {}

  /** Grant what was asked for (and offer what nobody asked for yet); returns the nodes granted to. */
  grant(now = this.claims.pipeline.clock.now()): string[] {
    // Liveness on this node's monotonic clock (receipts); `now` only stamps the grants.
    const view = new ClaimView(this.claims.pipeline, claimTimings(this.config.project));
    const granted: string[] = [];
    const free = new Map<Stage, Set<string>>();
    for (const item of this.claims.pipeline.listRequested()) {
      // Blocked or finished items, or ones already held: drop the requests so the askers look elsewhere.
      if (item.blocked || UNCLAIMABLE.has(item.stage) || view.live(item)) {
        this.claims.clearRequests(item.id);
        continue;
      }
      let asking = Object.keys(item.requests).filter((r) => view.alive(r));
      // A node may ask while its last job is finishing (see WorkLoop.request): one with a free slot
      // now goes first, so the item never waits for a busy node while an idle one asked too.
      if (asking.length > 1) {
        const idle = asking.filter((r) => this.freeFor(item.stage, view, free).has(r));
        if (idle.length) asking = idle;
      }
      const winner = hashWinner(asking, item.id);
      if (!winner) continue;
      const token = this.claims.grant(item.id, winner, now);
      this.log.debug({ story: item.id, node: winner.slice(0, 12), epoch: token?.epoch }, "claim granted");
      granted.push(winner);
    }
    return this.linked ? [...granted, ...this.offer(view, now)] : granted;
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
  private offer(view: ClaimView, now: number, only?: readonly string[]): string[] {
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
      const winner = hashWinner([...free.keys()], item.id)!;
      const token = this.claims.grant(item.id, winner, now);
      this.log.debug({ story: item.id, node: winner.slice(0, 12), epoch: token?.epoch }, "claim offered");
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
