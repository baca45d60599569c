import { signParts, verifyParts } from "./signed-record.js";
import type { Identity } from "./identity.js";

/**
 * Operator keys: who may sign operator writes (items, moves, grants, blocks), revocations and
 * directives. The rendezvous key (REST, MCP and the board act through the rendezvous, which signs
 * for them) plus `operator_keys` in project.toml: keys people keep (on a laptop, offline), so the
 * project survives the loss of the rendezvous. Every node reads its own checkout's project.toml.
 */
export class OperatorKeys {
  constructor(
    private readonly rendezvousKey: () => string | undefined,
    private readonly configured: () => readonly string[],
  ) {}

  has(key: string): boolean {
    return key === this.rendezvousKey() || this.configured().includes(key);
  }

  /** Only the configured people's keys (not the rendezvous): what may vouch for a new rendezvous. */
  isConfigured(key: string): boolean {
    return this.configured().includes(key);
  }
}

/**
 * A handover (issue 32): an operator key vouches for a new rendezvous key. sig =
 * sign_operator(`huskies-handover-v1|operator|newKey|at`). An agent accepts a rendezvous that
 * answers with `newKey` when the record verifies under a key in its own `operator_keys` (never
 * the old rendezvous key alone: a stolen rendezvous key must not be able to hand the project on).
 */
export interface Handover {
  operator: string;
  newKey: string;
  at: number;
  sig: string;
}

export const HANDOVER_KIND = "huskies-handover-v1";

export function signHandover(operator: Identity, newKey: string, at = Date.now()): Handover {
  return { operator: operator.nodeId, newKey, at, sig: signParts(operator, HANDOVER_KIND, operator.nodeId, newKey, at) };
}

export function verifyHandover(h: Handover, keys: OperatorKeys): boolean {
  return keys.isConfigured(h.operator) && verifyParts(h.operator, h.sig, HANDOVER_KIND, h.operator, h.newKey, h.at);
}
