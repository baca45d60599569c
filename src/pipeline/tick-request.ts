import type { Claim } from "./claim-rules.js";
import { parseCriteria, setCriterion } from "./story-markdown.js";

/**
 * A coder's tick, asked for rather than written (issue 31 with issue 27's rights table): a story's
 * body may be signed by an operator key only, so a holder on an agent node cannot tick its own
 * criterion. It signs a request with its node key instead, in the item's `tickRequests` map, and
 * the rendezvous (an operator) applies the ones whose signer holds the story's claim at that
 * epoch, then drops every request it has judged. Pure rules; the signature is checked by the caller.
 */
export const TICK_KIND = "huskies-tick-v1";

/** At most this many requests wait on one item: one burst of ticks, not a flood. */
export const MAX_TICK_REQUESTS = 32;

export interface TickRequest {
  item: string;
  node: string;
  epoch: number;
  index: number;
  done: boolean;
  at: number;
  sig: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** A request of the right shape, or undefined (dropped by the rendezvous, never applied). */
export function readTickRequest(v: unknown): TickRequest | undefined {
  if (!isObject(v)) return undefined;
  const { item, node, epoch, index, done, at, sig } = v;
  if (typeof item !== "string" || typeof node !== "string" || typeof sig !== "string" || typeof done !== "boolean") return undefined;
  if (!Number.isInteger(epoch) || !Number.isInteger(index) || (index as number) < 0 || !Number.isFinite(at)) return undefined;
  return { item, node, epoch: epoch as number, index: index as number, done, at: at as number, sig };
}

/** The map key of a request: one per node, time and criterion, so a node's requests never overwrite each other. */
export function tickRequestKey(r: Pick<TickRequest, "node" | "at" | "index">): string {
  return `${r.node.slice(0, 16)}.${r.at}.${r.index}`;
}

export type TickVerdict = { ok: true; body: string } | { ok: false; reason: string };

/**
 * Whether a (signature-checked) request applies to the item as the rendezvous verifies it now,
 * and the body it leads to. Only the node the claim names, at the claim's epoch: a request from
 * a run that lost its claim, or for another item, changes nothing.
 */
export function judgeTick(r: TickRequest, item: { id: string; body: string; claim: Claim | null; epoch: number }): TickVerdict {
  if (r.item !== item.id) return { ok: false, reason: "signed for another item" };
  if (!item.claim || item.claim.node !== r.node) return { ok: false, reason: "the signer does not hold the story" };
  if (r.epoch !== item.epoch) return { ok: false, reason: `a stale claim (epoch ${r.epoch}, now ${item.epoch})` };
  const criteria = parseCriteria(item.body);
  if (r.index >= criteria.length) return { ok: false, reason: `no criterion ${r.index}` };
  if (criteria[r.index]!.done === r.done) return { ok: true, body: item.body };
  return { ok: true, body: setCriterion(item.body, r.index, r.done) };
}
