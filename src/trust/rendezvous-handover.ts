import type { Identity } from "./identity.js";
import { signRecord, verifyRecord } from "./signed-record.js";

/**
 * A rendezvous handover: a person's operator key vouches that the project's rendezvous key
 * `from` (lost) is replaced by `to` (the rendezvous recovered with `serve --from-replica`). An
 * agent pinned to `from` that meets `to` at its rendezvous' address may follow `to` without a new
 * join string when the record verifies under one of the project's `operator_keys`.
 *
 * sig = sign_operator(`huskies-handover-v1|<operator>|<canonical JSON of {from, to, at, operator}>`).
 * The record is self-authenticating, so it may travel over an unauthenticated channel (the new
 * rendezvous shows it with its challenge); the new key is then proven by the handshake as always.
 *
 * Seam: the issue 27 work adds `operator_keys`; until then nothing produces or presents these
 * records, and agents re-join with join strings (README, "Recovering a lost rendezvous"). Wiring
 * it in: `serve --from-replica … --handover FILE` keeps the record, the challenge frame carries it
 * (an additive field), and `SyncConnection` asks `checkHandover` before `mismatch()` on an
 * upstream link, re-pinning `.huskies/rendezvous.json` when it passes.
 */
export const HANDOVER_KIND = "huskies-handover-v1";

export interface RendezvousHandover {
  from: string;
  to: string;
  /** When the operator signed it (ms). */
  at: number;
  operator: string;
  sig: string;
}

export function signHandover(operator: Identity, from: string, to: string, at = Date.now()): RendezvousHandover {
  return signRecord(operator, HANDOVER_KIND, { from, to, at, operator: operator.nodeId });
}

export type HandoverVerdict = { ok: true; handover: RendezvousHandover } | { ok: false; reason: string };

const KEY = /^[0-9a-f]{64}$/;

/**
 * Whether `record` lets an agent pinned to `pinned` follow `answered`. The vouching key must be
 * one of `operatorKeys` and never the lost rendezvous key itself: whoever took the lost disk holds
 * that key, and must not be able to hand the project to a key of their own. Never throws.
 */
export function checkHandover(record: unknown, o: { pinned: string; answered: string; operatorKeys: readonly string[] }): HandoverVerdict {
  const r = record as Partial<RendezvousHandover> | null;
  if (!r || typeof r !== "object" || Array.isArray(r)) return { ok: false, reason: "no handover record" };
  if (
    typeof r.from !== "string" ||
    !KEY.test(r.from) ||
    typeof r.to !== "string" ||
    !KEY.test(r.to) ||
    typeof r.operator !== "string" ||
    !KEY.test(r.operator) ||
    typeof r.at !== "number" ||
    !Number.isSafeInteger(r.at) ||
    typeof r.sig !== "string"
  )
    return { ok: false, reason: "malformed handover record" };
  if (r.from !== o.pinned)
    return { ok: false, reason: `the handover is from ${r.from.slice(0, 12)}, this node follows ${o.pinned.slice(0, 12)}` };
  if (r.to !== o.answered) return { ok: false, reason: `the handover is to ${r.to.slice(0, 12)}, ${o.answered.slice(0, 12)} answered` };
  if (r.operator === r.from) return { ok: false, reason: "a rendezvous key cannot vouch for its own successor" };
  if (!o.operatorKeys.includes(r.operator))
    return { ok: false, reason: `${r.operator.slice(0, 12)} is not one of the project's operator_keys` };
  const handover = { from: r.from, to: r.to, at: r.at, operator: r.operator, sig: r.sig };
  if (!verifyRecord(HANDOVER_KIND, r.operator, handover)) return { ok: false, reason: "the handover's signature does not verify" };
  return { ok: true, handover };
}
