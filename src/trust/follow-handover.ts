import { verifyHandover, type Handover, type OperatorKeys } from "./operator-keys.js";

export type FollowVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether an agent that follows rendezvous `pinned` may follow `answered` instead, on the strength
 * of the `handover` the answering rendezvous showed (issue 32). The record is self-authenticating
 * (any channel may carry it); the handshake that follows proves `answered` holds its key.
 *
 * - It must name `answered` and verify under one of this checkout's `operator_keys` (never the
 *   lost rendezvous key, which whoever took the lost disk holds; `verifyHandover` only looks at
 *   the configured keys).
 * - It must be newer than the handover this agent last followed (`followedAt`), so an old record
 *   for a rendezvous that was itself replaced later cannot be replayed to pull agents back to it.
 */
export function mayFollowHandover(
  handover: Handover | undefined,
  o: { pinned: string; answered: string; followedAt?: number; keys: OperatorKeys },
): FollowVerdict {
  if (!handover) return { ok: false, reason: "it showed no operator-signed handover" };
  if (handover.newKey !== o.answered) return { ok: false, reason: "its handover names another key" };
  if (handover.operator === o.pinned) return { ok: false, reason: "a rendezvous key cannot vouch for its successor" };
  if (!o.keys.isConfigured(handover.operator))
    return { ok: false, reason: `its handover is signed by ${handover.operator.slice(0, 12)}, not one of this checkout's operator_keys` };
  if (o.followedAt !== undefined && handover.at <= o.followedAt)
    return { ok: false, reason: "its handover is older than the one this checkout last followed" };
  if (!verifyHandover(handover, o.keys)) return { ok: false, reason: "its handover's signature does not verify" };
  return { ok: true };
}
