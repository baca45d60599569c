import type { TLSSocket } from "node:tls";

/**
 * A pinned server: accept a (self-signed) certificate only if its SHA-256 fingerprint matches,
 * and require the welcome to come from `nodeId`. From a join string (`huskies agent --join`).
 */
export interface TlsPin {
  /** SHA-256 of the server certificate, hex with or without colons, any case. */
  fingerprint256?: string;
  /** The rendezvous' node id (hex public key). */
  nodeId?: string;
}

/** Canonical form of a fingerprint: lowercase hex, no separators. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
}

/** The fingerprint of the certificate on `socket`, normalized; undefined if it is not TLS or has none. */
export function peerFingerprint(socket: unknown): string | undefined {
  const s = socket as Partial<TLSSocket> | undefined;
  if (!s || typeof s.getPeerCertificate !== "function") return undefined;
  const fp = s.getPeerCertificate()?.fingerprint256;
  return fp ? normalizeFingerprint(fp) : undefined;
}

/** Why the certificate on `socket` is not the pinned one, or undefined when it is. */
export function pinMismatch(pin: TlsPin, socket: unknown): string | undefined {
  if (!pin.fingerprint256) return undefined;
  const want = normalizeFingerprint(pin.fingerprint256);
  const got = peerFingerprint(socket);
  if (!got) return "the server presented no TLS certificate";
  return got === want ? undefined : `the server's certificate fingerprint ${got} is not the pinned ${want}`;
}

/**
 * The one thing an agent pinned to a rendezvous key can do when another key answers at its
 * rendezvous' address (the project's rendezvous was lost and recovered with a new key, or
 * someone is impersonating it): it refuses, and is told how to follow a new rendezvous.
 */
export const REJOIN_HINT =
  "if this project's rendezvous was replaced (huskies serve --from-replica), re-join with a join string from the new one: huskies agent --join JOIN";
