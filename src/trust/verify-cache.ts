import { createHash } from "node:crypto";
import type { Identity } from "./identity.js";
import { verifySignature } from "./identity.js";

/**
 * Verified signatures, remembered. Readers re-read an item on every change to it, and most of
 * its signed groups did not change: checking a signature again costs ~0.1 ms of Ed25519, while
 * hashing the text it was verified over costs ~1 µs. Keyed by the signature (which no other text
 * has); an entry counts only for the same signer and the same text, kept as a SHA-256 digest:
 * the texts themselves (a story's whole body, for its item group) made the cache grow with every
 * signed write a long-running node read.
 * Our own signatures are entered when made, so a node never verifies what it just signed.
 */
const MAX_ENTRIES = 50_000;
const verified = new Map<string, string>();

function remember(sig: string, key: string): void {
  if (verified.size >= MAX_ENTRIES) {
    // Drop the oldest tenth (Map keeps insertion order): cheap and bounded.
    let n = MAX_ENTRIES / 10;
    for (const k of verified.keys()) {
      verified.delete(k);
      if (--n <= 0) break;
    }
  }
  verified.set(sig, key);
}

/** What a verified entry remembers of signer and text. */
function digest(signer: string, text: string): string {
  return createHash("sha256").update(signer).update("\n").update(text).digest("base64");
}

/** Whether `sig` is `signer`'s signature over `text` (cached). Never throws. */
export function verifyCached(signer: string, text: string, sig: unknown): boolean {
  if (typeof sig !== "string") return false;
  const key = digest(signer, text);
  if (verified.get(sig) === key) return true;
  verifyCounts.checks += 1;
  if (!verifySignature(signer, text, sig)) return false;
  remember(sig, key);
  return true;
}

/** Sign `text` and remember the signature as verified. */
export function signCached(identity: Identity, text: string): string {
  const sig = identity.sign(text);
  remember(sig, digest(identity.nodeId, text));
  return sig;
}

/** Signatures actually checked (not served from the cache): for tests and the benchmark. */
export const verifyCounts = { checks: 0 };
