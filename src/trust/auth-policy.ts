import { timingSafeEqual } from "node:crypto";
import type * as Y from "yjs";
import { logger } from "../log.js";
import { issueCertificate, verifyCertificate, type Certificate } from "./admission.js";
import type { Identity } from "./identity.js";
import type { JoinTokenStore } from "./join-tokens.js";
import { Revocations, type RevocationStore } from "./revocations.js";
import type { SyncHub } from "../sync/sync-hub.js";
import type { HandoverFile } from "./handover-file.js";
import type { Handover } from "./operator-keys.js";

export type AuthVerdict = { ok: true } | { ok: false; reason: string };
/** `tokenMayAdmit`: refused as it stands, but a join token could admit it (see the pending welcome). */
export type AdmitVerdict = { ok: true; issued?: Certificate } | { ok: false; reason: string; tokenMayAdmit?: boolean };

/** What a connector proved and presented in its answer (its signature is already verified). */
export interface AnswerClaims {
  nodeId: string;
  joinToken?: string;
  admission?: Certificate;
}

/** How the accepting side of one connection decides. */
export interface Gatekeeper {
  /**
   * Serve a client that never answers the challenge (a stock y-websocket client, a browser):
   * open mode, or a valid bearer token. Never true on an agent.
   */
  preAuthorized: boolean;
  /** Admit a connector whose key is proven; a rendezvous also issues it a certificate. */
  admit(claims: AnswerClaims): AdmitVerdict;
  /** This node's own certificate, shown in the welcome. */
  credential(): Certificate | undefined;
  /** A recovered rendezvous: the operator-signed handover it shows in its challenge. */
  handover?(): Handover | undefined;
}

export interface SyncPolicyOptions {
  /** A `rendezvous` issues certificates and may run open; an `agent` never runs open nor takes a bearer. */
  role: "rendezvous" | "agent";
  identity: Identity;
  /** Open mode (loopback, no keys): anyone who connects may sync. Ignored for agents. */
  open?: boolean;
  /** Bearer token (`?token=`) that admits a client that cannot sign. Ignored for agents. */
  adminToken?: string;
  trustedKeys: () => Iterable<string>;
  tokens?: JoinTokenStore;
  /** The document holding `revocations`. */
  doc: Y.Doc;
  /** The project's rendezvous key as pinned or stored (`.huskies/rendezvous.json`); a rendezvous is its own. */
  rendezvousKey?: string;
  /** This node's certificate as stored (`.huskies/admission.json`). */
  admission?: Certificate;
  /** Operator keys besides the rendezvous key (`operator_keys`): their revocations count too. */
  operatorKeys?: () => readonly string[];
  /** How long an admission lasts without the node connecting (ms; `admission_ttl`). Read at every check. */
  admissionTtlMs?: () => number;
  /** A write to `revocations` that undid a kept revocation (counted with the document's unverified writes). */
  onUnverified?: (key: string) => void;
  /** Where verified revocations are kept, so a deleted entry never un-revokes a key. */
  revocationStore?: RevocationStore;
  /** A rendezvous recovered with an operator key (`.huskies/handover.json`, see handover-file.ts). */
  handover?: HandoverFile;
  now?: () => number;
}

/**
 * Who may sync with this node. A key is admitted when it is in `trusted_keys`, was admitted by a
 * one-time join token on this node, or presents a certificate signed by the project's rendezvous
 * key; and it is not revoked. Never because an entry exists in the document. A rendezvous in
 * open mode, or given the admin token as bearer, also serves clients that cannot sign. A
 * rendezvous hands every connector it welcomes (all proved their key) a fresh certificate, which
 * is what lets agents admit each other on the mesh.
 */
export class SyncPolicy {
  readonly role: "rendezvous" | "agent";
  readonly identity: Identity;
  readonly revocations: Revocations;
  private rendezvous: string | undefined;
  private admission: Certificate | undefined;
  private readonly log = logger("sync");

  constructor(private readonly o: SyncPolicyOptions) {
    this.role = o.role;
    this.identity = o.identity;
    this.rendezvous = o.role === "rendezvous" ? o.identity.nodeId : o.rendezvousKey;
    this.admission = o.admission;
    this.revocations = new Revocations(o.doc, (key) => key === this.rendezvous || !!o.operatorKeys?.().includes(key), o.revocationStore);
  }

  get open(): boolean {
    return this.role === "rendezvous" && !!this.o.open;
  }

  rendezvousKey(): string | undefined {
    return this.rendezvous;
  }

  /** Trust on first use: remember the rendezvous key from the first authenticated upstream link. Returns whether it was new. */
  learnRendezvous(nodeId: string): boolean {
    if (this.role === "rendezvous" || this.rendezvous) return false;
    this.rendezvous = nodeId;
    this.revocations.recheck();
    return true;
  }

  /**
   * An agent follows a new rendezvous key that an operator key vouched for (the caller checked
   * the handover, see follow-handover.ts): what the new key signs counts from now on, and the
   * next handshake must prove it.
   */
  follow(nodeId: string): void {
    if (this.role === "rendezvous") return;
    this.rendezvous = nodeId;
    this.revocations.recheck();
  }

  credential(): Certificate | undefined {
    return this.admission;
  }

  /** Keep a certificate the rendezvous issued to this node (only one that verifies). */
  setCredential(cert: Certificate): boolean {
    if (!verifyCertificate(cert, { node: this.identity.nodeId, issuer: this.rendezvous, acceptOpen: true })) return false;
    this.admission = cert;
    return true;
  }

  isRevoked(nodeId: string, issuedAt?: number): boolean {
    return this.revocations.isRevoked(nodeId, issuedAt);
  }

  /** The gate for one incoming connection that presented `bearer` (`?token=`), if any. */
  gate(bearer: string | null): Gatekeeper {
    const preAuthorized = this.role === "rendezvous" && (this.open || bearerMatches(this.o.adminToken, bearer));
    return {
      preAuthorized,
      admit: (claims) => this.admit(claims, preAuthorized),
      credential: () => this.admission,
      handover: () => this.o.handover?.handover,
    };
  }

  /** Whether a peer this node dialled (mesh) may sync with it. */
  admits(peerId: string, credential?: Certificate): AuthVerdict {
    if (this.isRevoked(peerId)) {
      return this.byCertificate(peerId, credential) ? { ok: true } : { ok: false, reason: "peer key is revoked" };
    }
    if (peerId === this.rendezvous || this.byKey(peerId) || this.byCertificate(peerId, credential)) return { ok: true };
    return { ok: false, reason: "peer key is not admitted in this project" };
  }

  /**
   * Close every link of a key when a valid revocation for it arrives, and drop its join
   * admission. Returns the unsubscribe function.
   */
  enforce(hub: SyncHub): () => void {
    const reassert = () => {
      const n = this.revocations.reassert();
      if (n) this.log.warn({ entries: n }, "revocations missing from the document written back");
    };
    // The rendezvous puts back what a peer deleted, after the transaction that deleted it.
    if (this.role === "rendezvous") reassert();
    return this.revocations.watch(
      (nodeId, at) => {
        this.log.warn({ peer: nodeId.slice(0, 12), at }, "key revoked: closing its links");
        hub.closePeer(nodeId, "revoked");
        this.o.tokens?.forget(nodeId);
      },
      (nodeId) => {
        this.o.onUnverified?.(`revocations\0${nodeId}\0${Date.now()}`);
        this.log.warn({ peer: nodeId.slice(0, 12) }, "a revocation was deleted from the document; it still counts");
        if (this.role === "rendezvous") setImmediate(reassert);
      },
    );
  }

  private admit(claims: AnswerClaims, preAuthorized: boolean): AdmitVerdict {
    const key = claims.nodeId;
    try {
      // Revoked: only a certificate issued after the revocation (a deliberate re-admission) counts.
      if (this.isRevoked(key)) return this.byCertificate(key, claims.admission) ? this.welcome(key) : { ok: false, reason: "key revoked" };
      if (this.byKey(key) || this.byCertificate(key, claims.admission)) return this.welcome(key);
      if (claims.joinToken && this.o.tokens) {
        const used = this.o.tokens.consume(claims.joinToken, key, this.now());
        if (!used.ok) return { ok: false, reason: `join token refused: ${used.reason}` };
        this.o.tokens.admitKey(key, this.now());
        return this.welcome(key);
      }
      // Open mode admits anyone, and so vouches for nobody: only an open-mode certificate (issue 27).
      if (preAuthorized) return this.welcome(key, this.open);
      return { ok: false, reason: "unknown key", tokenMayAdmit: !!this.o.tokens };
    } catch (err) {
      // The join-token tables share the replica's SQLite file: a lock held elsewhere must refuse
      // this one handshake (the connector retries), not crash the acceptor.
      return { ok: false, reason: `admission check failed: ${(err as Error).message}`.slice(0, 120) };
    }
  }

  private welcome(key: string, open = false): AdmitVerdict {
    // Connecting renews a join-token admission (admission_ttl counts from the last connection).
    if (!open) {
      try {
        this.o.tokens?.touch(key, this.now());
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "could not renew an admission (it is renewed at the next connection)");
      }
    }
    return this.role === "rendezvous" ? { ok: true, issued: issueCertificate(this.identity, key, this.now(), open) } : { ok: true };
  }

  private ttlMs(): number | undefined {
    return this.o.admissionTtlMs?.();
  }

  private byKey(key: string): boolean {
    for (const k of this.o.trustedKeys()) if (k === key) return true;
    return !!this.o.tokens?.isAdmitted(key, this.now(), this.ttlMs());
  }

  /**
   * A certificate from the rendezvous, not lapsed, not revoked. An open-mode one counts only on an
   * agent whose own certificate is open-mode too (the project runs open), never on the rendezvous.
   */
  private byCertificate(key: string, cert: Certificate | undefined): boolean {
    const acceptOpen = this.role === "agent" && !!this.admission?.open;
    // A recovered rendezvous: the lost key's certificates still admit the nodes the project had.
    const lost = this.o.handover;
    const issuer = lost && cert?.issuer === lost.lostKey && lost.nodes.includes(key) ? lost.lostKey : this.rendezvous;
    return (
      !!cert &&
      verifyCertificate(cert, { node: key, issuer, ttlMs: this.ttlMs(), now: this.now(), acceptOpen }) &&
      !this.isRevoked(key, cert.issuedAt)
    );
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/** The one place a node's sync admission is configured; the node wires it into server, upstream and mesh. */
export function createSyncPolicy(o: SyncPolicyOptions): SyncPolicy {
  return new SyncPolicy(o);
}

export function bearerMatches(expected: string | undefined, given: string | null | undefined): boolean {
  if (!expected || !given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
