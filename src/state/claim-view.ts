import { claimIsLive, isNodeAlive, type ClaimTimings } from "../pipeline/claim-rules.js";
import type { Role } from "../pipeline/roles.js";
import { isReverted } from "../util/reverted-fixes.js";
import type { Item, NodeEntry } from "./item.js";
import type { PipelineDoc } from "./pipeline-doc.js";

/** The claim timings of a project config, in ms. */
export function claimTimings(cfg: { node_alive_secs: number; claim_timeout_secs: number }): ClaimTimings {
  return { nodeAliveMs: cfg.node_alive_secs * 1000, claimTimeoutMs: cfg.claim_timeout_secs * 1000 };
}

/**
 * Whether node `id` counts as alive on this node: its entry says it runs (a clean shutdown says
 * otherwise at once) and its heartbeat was *received* here within `aliveMs` on this node's
 * monotonic clock (`peerAlive`, docs/architecture.md "Faults"); its own `lastSeen` is never
 * compared with this machine's clock.
 */
export function isPeerAlive(pipeline: PipelineDoc, id: string, aliveMs: number, now = pipeline.clock.monotonic()): boolean {
  const node = pipeline.getNode(id);
  if (!node?.alive) return false;
  if (isReverted("clock-liveness")) return isNodeAlive(node, pipeline.clock.now(), aliveMs);
  return pipeline.receipts.alive(id, aliveMs, now);
}

/**
 * The nodes for claim decisions during one synchronous pass. It reads the document's node index
 * in place rather than copying it: every document change runs a pass on every node, and a copy
 * per pass made each heartbeat cost O(fleet) on every agent. `now` is this node's monotonic time.
 */
export class ClaimView {
  readonly nodes: ReadonlyMap<string, NodeEntry>;

  constructor(
    private readonly pipeline: PipelineDoc,
    readonly timings: ClaimTimings,
    readonly now = pipeline.clock.monotonic(),
  ) {
    this.nodes = pipeline.nodeIndex();
  }

  /** Whether the item's claim binds: in the stage it was granted for, held by a running node heard from within the claim timeout. */
  live(item: Item): boolean {
    const claim = item.claim;
    const holder = claim ? this.nodes.get(claim.node) : undefined;
    if (isReverted("clock-liveness")) return claimIsLive(claim, item.stage, holder, this.pipeline.clock.now(), this.timings);
    if (!claim || claim.stage !== item.stage || !holder?.alive) return false;
    return this.pipeline.receipts.holds(claim.node, this.timings.claimTimeoutMs, this.now);
  }

  alive(nodeId: string): boolean {
    return isPeerAlive(this.pipeline, nodeId, this.timings.nodeAliveMs, this.now);
  }

  /**
   * Live agents with slots for `role` (the rendezvous excluded unless it runs slots itself).
   * `free` subtracts the live claims each node holds among `claimed`, so the result is the nodes
   * with a free slot as far as the document tells; paused nodes take no new work.
   */
  withSlots(role: Role, opts: { claimed?: readonly Item[]; includePaused?: boolean } = {}): string[] {
    const held = new Map<string, number>();
    for (const i of opts.claimed ?? []) if (this.live(i)) held.set(i.claim!.node, (held.get(i.claim!.node) ?? 0) + 1);
    const out: string[] = [];
    for (const n of this.nodes.values()) {
      if (!this.alive(n.id) || (!opts.includePaused && n.paused)) continue;
      if ((n.capacity?.[role] ?? 0) > (held.get(n.id) ?? 0)) out.push(n.id);
    }
    return out;
  }

  /** Free slots for `role` over every live, unpaused node (claims in `claimed` counted as busy). */
  freeSlots(role: Role, claimed: readonly Item[]): number {
    let total = 0;
    for (const n of this.nodes.values()) if (this.alive(n.id) && !n.paused) total += n.capacity?.[role] ?? 0;
    return total - claimed.filter((i) => !i.blocked).length;
  }
}
