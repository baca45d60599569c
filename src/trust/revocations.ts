import * as Y from "yjs";
import { signParts, verifyParts } from "./signed-record.js";
import { logger } from "../log.js";
import type { Identity } from "./identity.js";

/**
 * Revocations live in the document, map `revocations: Y.Map<nodeId, {at, issuer, sig}>` with
 * sig = sign_issuer(`huskies-revoke-v1|issuer|node|at`). Only entries signed by the rendezvous
 * key this node knows count; anything else in the map (unsigned, forged, another issuer) is
 * ignored, so writing to the document revokes nothing by itself.
 */
export interface RevocationEntry {
  at: number;
  issuer: string;
  sig: string;
}

export const REVOKE_KIND = "huskies-revoke-v1";
export const REVOCATIONS_MAP = "revocations";

/** The entry to write at `revocations[node]` (the rendezvous signs it). */
export function signRevocation(issuer: Identity, node: string, at = Date.now()): RevocationEntry {
  return { at, issuer: issuer.nodeId, sig: signParts(issuer, REVOKE_KIND, issuer.nodeId, node, at) };
}

export class Revocations {
  readonly map: Y.Map<unknown>;

  constructor(
    doc: Y.Doc,
    private readonly rendezvousKey: () => string | undefined,
  ) {
    this.map = doc.getMap(REVOCATIONS_MAP);
  }

  /** The time `nodeId` was revoked by a valid entry, if it was. */
  revokedAt(nodeId: string): number | undefined {
    const issuer = this.rendezvousKey();
    const e = this.map.get(nodeId) as Partial<RevocationEntry> | undefined;
    if (!issuer || !e || typeof e !== "object" || e.issuer !== issuer) return undefined;
    if (typeof e.at !== "number" || !Number.isSafeInteger(e.at)) return undefined;
    return verifyParts(issuer, e.sig, REVOKE_KIND, issuer, nodeId, e.at) ? e.at : undefined;
  }

  /**
   * Whether `nodeId` is revoked. With `issuedAt` (a certificate's), only a revocation at or after
   * it counts: a certificate issued after the revocation is a deliberate re-admission.
   */
  isRevoked(nodeId: string, issuedAt?: number): boolean {
    const at = this.revokedAt(nodeId);
    if (at === undefined) return false;
    return issuedAt === undefined || issuedAt <= at;
  }

  /** Write a revocation (the caller is the rendezvous; others' entries would be ignored). */
  revoke(issuer: Identity, nodeId: string, at = Date.now()): RevocationEntry {
    const entry = signRevocation(issuer, nodeId, at);
    this.map.set(nodeId, entry);
    return entry;
  }

  /** Call `onRevoked` for every node that a change to the map validly revokes. Returns unsubscribe. */
  watch(onRevoked: (nodeId: string, at: number) => void): () => void {
    const handler = (e: Y.YMapEvent<unknown>) => {
      for (const [key, change] of e.changes.keys) {
        if (change.action === "delete") continue;
        const at = this.revokedAt(key);
        if (at === undefined) continue;
        // Runs inside a Yjs observer: never let a failure escape into the transaction.
        try {
          onRevoked(key, at);
        } catch (err) {
          logger("sync").error({ err, node: key.slice(0, 12) }, "acting on a revocation failed");
        }
      }
    };
    this.map.observe(handler);
    return () => this.map.unobserve(handler);
  }
}
