/**
 * What a repeated REST create gets (docs/architecture.md, "Faults", a 503 means not
 * acknowledged): the rule behind `Idempotency-Key`. Pure.
 */

/** The first answer to a keyed request. */
export interface RememberedAnswer {
  /** SHA-256 of method, path and body: the same key with another request is a client bug. */
  fingerprint: string;
  status: number;
  body: string;
  createdAt: number;
}

export type ReplayVerdict =
  { kind: "new" } | { kind: "replay"; answer: RememberedAnswer } | { kind: "conflict"; status: 409 | 422; error: string };

/** Keys are opaque to us, but bounded and printable (they go into SQLite and logs). */
export function idempotencyKeyProblem(key: string): string | undefined {
  if (key.length === 0 || key.length > 255) return "Idempotency-Key must be 1 to 255 characters";
  if (!/^[\x21-\x7e]+$/.test(key)) return "Idempotency-Key must be printable ASCII without spaces";
  return undefined;
}

/**
 * `remembered`: the answer kept for the key (if any, younger than 24 h); `inFlight`: the
 * fingerprint of a request with this key still being handled.
 */
export function replayVerdict(remembered: RememberedAnswer | undefined, inFlight: string | undefined, fingerprint: string): ReplayVerdict {
  if (remembered) {
    if (remembered.fingerprint !== fingerprint)
      return { kind: "conflict", status: 422, error: "this Idempotency-Key was used for a different request" };
    return { kind: "replay", answer: remembered };
  }
  if (inFlight !== undefined) return { kind: "conflict", status: 409, error: "a request with this Idempotency-Key is still being handled" };
  return { kind: "new" };
}
