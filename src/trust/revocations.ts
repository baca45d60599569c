import * as Y from "yjs";
import { signParts, verifyParts } from "./signed-record.js";
import { logger } from "../log.js";
import type { Identity } from "./identity.js";

/**
 * Revocations live in the document, map `revocations: Y.Map<nodeId, {at, issuer, sig}>` with
 * sig = sign_issuer(`huskies-revoke-v1|issuer|node|at`). Only entries signed by an operator key
 * (the rendezvous key this node knows, `operator_keys`) count; anything else in the map
 * (unsigned, forged, another issuer) is ignored, so writing to the document revokes nothing.
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

/** Where verified revocations are kept beside the replica (see trust-state.ts). */
export interface RevocationStore {
  revoked(): Map<string, unknown>;
  keepRevocation(key: string, entry: unknown): void;
}

/**
 * Revocations stick (issue 27): every entry that verifies is kept in the node's own store, and a
 * key stays revoked when its entry disappears from the document (a peer deleted it, an older
 * replica merged in). The rendezvous writes missing entries back (`reassert`).
 */
export class Revocations {
  readonly map: Y.Map<unknown>;
  private readonly kept = new Map<string, RevocationEntry>();

  constructor(
    doc: Y.Doc,
    /** Keys whose revocations count: operator keys (the rendezvous key, `operator_keys`). */
    private readonly isIssuer: (key: string) => boolean,
    private readonly store?: RevocationStore,
  ) {
    this.map = doc.getMap(REVOCATIONS_MAP);
    for (const [key, entry] of store?.revoked() ?? []) if (isRevocationShape(entry)) this.kept.set(key, entry);
    // Entries already in the replica count as seen (a node that starts after a revocation keeps it).
    this.map.forEach((_v, key) => this.keep(key));
  }

  /** The time `nodeId` was revoked by a valid entry (in the document or kept), if it was. */
  revokedAt(nodeId: string): number | undefined {
    const inDoc = this.valid(nodeId, this.map.get(nodeId));
    const kept = this.valid(nodeId, this.kept.get(nodeId));
    if (inDoc === undefined) return kept;
    return kept === undefined ? inDoc : Math.max(inDoc, kept);
  }

  private valid(nodeId: string, e: unknown): number | undefined {
    if (!isRevocationShape(e) || !this.isIssuer(e.issuer)) return undefined;
    return verifyParts(e.issuer, e.sig, REVOKE_KIND, e.issuer, nodeId, e.at) ? e.at : undefined;
  }

  /** Keep the document's entry for `nodeId` if it verifies and is newer than what is kept. */
  private keep(nodeId: string): number | undefined {
    const e = this.map.get(nodeId);
    const at = this.valid(nodeId, e);
    if (at === undefined || !isRevocationShape(e)) return undefined;
    const prev = this.kept.get(nodeId);
    if (prev && prev.at >= at) return at;
    this.kept.set(nodeId, { at: e.at, issuer: e.issuer, sig: e.sig });
    try {
      this.store?.keepRevocation(nodeId, this.kept.get(nodeId));
    } catch (err) {
      logger("sync").error({ err: (err as Error).message, node: nodeId.slice(0, 12) }, "could not keep a revocation (kept in memory)");
    }
    return at;
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

  /** Write a revocation (the caller holds an operator key; others' entries are ignored). */
  revoke(issuer: Identity, nodeId: string, at = Date.now()): RevocationEntry {
    const entry = signRevocation(issuer, nodeId, at);
    this.map.set(nodeId, entry);
    return entry;
  }

  /** Write back every kept revocation the document lacks or holds in a form that does not verify (the rendezvous). */
  reassert(): number {
    let n = 0;
    this.map.doc?.transact(() => {
      for (const [key, entry] of this.kept) {
        if (this.valid(key, this.map.get(key)) !== undefined) continue;
        if (this.valid(key, entry) === undefined) continue;
        this.map.set(key, { ...entry });
        n += 1;
      }
    });
    return n;
  }

  /** The operator keys changed: entries that did not count may now (an issuer became known). */
  recheck(): void {
    this.map.forEach((_v, key) => this.keep(key));
  }

  /**
   * Call `onRevoked` for every node that a change to the map validly revokes, and `onMissing`
   * when an entry that was kept is deleted or spoiled. Returns unsubscribe.
   */
  watch(onRevoked: (nodeId: string, at: number) => void, onMissing?: (nodeId: string) => void): () => void {
    const handler = (e: Y.YMapEvent<unknown>) => {
      for (const [key, change] of e.changes.keys) {
        // Runs inside a Yjs observer: never let a failure escape into the transaction.
        try {
          const at = change.action === "delete" ? undefined : this.keep(key);
          if (at !== undefined) onRevoked(key, at);
          else if (this.kept.has(key)) onMissing?.(key);
        } catch (err) {
          logger("sync").error({ err, node: key.slice(0, 12) }, "acting on a revocation failed");
        }
      }
    };
    this.map.observe(handler);
    return () => this.map.unobserve(handler);
  }
}

function isRevocationShape(e: unknown): e is RevocationEntry {
  const r = e as Partial<RevocationEntry> | null;
  return !!r && typeof r === "object" && typeof r.issuer === "string" && typeof r.sig === "string" && Number.isSafeInteger(r.at);
}
