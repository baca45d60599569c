import { createHash } from "node:crypto";
import type { Stage } from "./stages.js";
import type { Role } from "./roles.js";

/**
 * Claim rules (docs/architecture.md §2), pure functions of values read from the document.
 * `node:crypto` hashing is the only import with a runtime; it does no I/O.
 */

export interface Claim {
  node: string;
  at: number;
  /** Grows by one with every grant on this item; stale holders are recognised by it. */
  epoch: number;
  /** The stage the claim was granted for; a claim stops counting once the item leaves it. */
  stage: Stage;
}

export interface NodeView {
  id: string;
  role: string;
  lastSeen: number;
  alive: boolean;
  capacity?: Partial<Record<Role, number>>;
}

export interface ClaimTimings {
  nodeAliveMs: number;
  claimTimeoutMs: number;
}

/** The stage a slot role works on. */
export const ROLE_STAGE: Record<Role, Stage> = { coder: "current", qa: "qa", mergemaster: "merge" };

export function isNodeAlive(node: NodeView | undefined, now: number, nodeAliveMs: number): boolean {
  return !!node && node.alive && now - node.lastSeen <= nodeAliveMs;
}

/**
 * Whether a claim still binds: it names a node that exists, has not shut down, has heartbeated
 * within the claim timeout, and the item is still in the stage the claim was granted for.
 */
export function claimIsLive(
  claim: Claim | null | undefined,
  stage: Stage,
  node: NodeView | undefined,
  now: number,
  t: ClaimTimings,
): claim is Claim {
  if (!claim || claim.stage !== stage || !node || !node.alive) return false;
  return now - Math.max(node.lastSeen, claim.at) <= t.claimTimeoutMs;
}

/** Hashes are asked for on every document event for every open item; remember them (bounded). */
const HASH_CACHE_MAX = 200_000;
/**
 * By story, then node: looking up two existing strings reuses the hash V8 keeps in each string,
 * where a concatenated key would be a new 100-character string to hash on every lookup (this
 * ran once per fleet member per open item per document change).
 */
const hashCache = new Map<string, Map<string, string>>();
let cached = 0;

/**
 * Whether a node may be granted an item in `stage`: it has a slot for the role working that stage.
 * Requests carry no stage, and a move clears only the requests its writer had seen, so a coder's
 * request written while the item was leaving `current` can still stand once it is in `qa` or
 * `merge`; granted there, it names a node that never starts the item, and the story waits behind
 * that claim for as long as the node lives. Pure.
 */
export function hasSlotFor(capacity: Partial<Record<Role, number>> | undefined, stage: Stage): boolean {
  const role = (Object.keys(ROLE_STAGE) as Role[]).find((r) => ROLE_STAGE[r] === stage);
  return role !== undefined && (capacity?.[role] ?? 0) > 0;
}

/** huskies' tie-break: sha256(nodeId ‖ storyId), compared as hex. Spreads stories over nodes. */
export function claimHash(nodeId: string, storyId: string): string {
  let byNode = hashCache.get(storyId);
  let h = byNode?.get(nodeId);
  if (h === undefined) {
    h = createHash("sha256").update(nodeId).update(storyId).digest("hex");
    if (cached >= HASH_CACHE_MAX) {
      hashCache.clear();
      cached = 0;
      byNode = undefined;
    }
    if (!byNode) hashCache.set(storyId, (byNode = new Map()));
    byNode.set(nodeId, h);
    cached += 1;
  }
  return h;
}

/** Of `nodeIds`, the one with the lowest claim hash for `storyId`. */
export function hashWinner(nodeIds: readonly string[], storyId: string): string | undefined {
  let best: string | undefined;
  let bestHash = "";
  for (const id of nodeIds) {
    const h = claimHash(id, storyId);
    if (best === undefined || h < bestHash) {
      best = id;
      bestHash = h;
    }
  }
  return best;
}

/** Order candidate stories by this node's hash so that nodes asking at once ask for different stories. */
export function preferredOrder(nodeId: string, storyIds: readonly string[]): string[] {
  return storyIds
    .map((id) => ({ id, h: claimHash(nodeId, id) }))
    .sort((a, b) => (a.h < b.h ? -1 : 1))
    .map((x) => x.id);
}

/** Peers for the mesh: deterministic, so two runs with the same membership pick the same links. */
export function choosePeers(selfId: string, candidates: readonly string[], max: number): string[] {
  return candidates
    .filter((id) => id !== selfId)
    .map((id) => ({ id, h: claimHash(selfId, id) }))
    .sort((a, b) => (a.h < b.h ? -1 : 1))
    .slice(0, Math.max(0, max))
    .map((p) => p.id);
}

export function nextClaim(node: string, currentEpoch: number, stage: Stage, now: number): Claim {
  return { node, at: now, epoch: currentEpoch + 1, stage };
}
