import { X509Certificate } from "node:crypto";
import { syncUrlOf } from "../node/advertised-address.js";
import { encodeJoin } from "../trust/join-string.js";
import { normalizeFingerprint } from "../trust/tls-pin.js";
import { hostnameOf, isLoopbackName, isUnspecified, normalizeHostname } from "./served-names.js";

export interface JoinIssuerOptions {
  nodeId: string;
  /** The PEM certificate this node serves, when it serves TLS. */
  cert?: Buffer;
  boundHost: string;
  port: () => number;
  publicUrls: () => readonly string[];
}

/** SHA-256 fingerprint of a PEM certificate (its first one), normalized. */
export function certificateFingerprint(pem: Buffer | string): string {
  return normalizeFingerprint(new X509Certificate(pem).fingerprint256);
}

/**
 * `host:port` a caller on another machine should use for this server: the `Host` it reached us
 * by (already checked by the request guard), unless that is loopback while the server is bound
 * to a routable address (then that address); a server bound to all interfaces and asked over
 * loopback can only answer loopback (set `public_urls` for a name).
 */
export function reachableAuthority(requestHost: string | undefined, boundHost: string, port: number): string {
  const name = hostnameOf(requestHost);
  const bound = normalizeHostname(boundHost);
  const routableBound = !isUnspecified(bound) && !isLoopbackName(bound);
  if (requestHost && name && !(isLoopbackName(name) && routableBound)) return requestHost;
  const host = isUnspecified(bound) ? "127.0.0.1" : bound;
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Writes the join strings this rendezvous hands out (`POST /api/tokens`, `POST /api/nodes/admit`):
 * the `/crdt-sync` URL other hosts should dial, this node's key, and its certificate's fingerprint.
 * The URL's host is `public_urls[0]`'s, else the `Host` the caller reached this server by (unless
 * that is loopback and the server is bound to a routable address), so a token minted from another
 * machine names the address that machine used.
 */
export class JoinIssuer {
  readonly fingerprint: string | undefined;

  constructor(private readonly o: JoinIssuerOptions) {
    this.fingerprint = o.cert ? certificateFingerprint(o.cert) : undefined;
  }

  /** The rendezvous URL for a caller that sent `requestHost` (its `Host` header). */
  syncUrl(requestHost: string | undefined): string {
    const publicUrl = this.o.publicUrls()[0];
    if (publicUrl) return syncUrlOf(publicUrl);
    return `${this.fingerprint ? "wss" : "ws"}://${reachableAuthority(requestHost, this.o.boundHost, this.o.port())}/crdt-sync`;
  }

  /** A join string; without `token` it only pins this server (for a key it admitted already). */
  issue(requestHost: string | undefined, token?: string): string {
    const url = this.syncUrl(requestHost);
    return encodeJoin({
      v: 1,
      kind: "rendezvous",
      url,
      nodeId: this.o.nodeId,
      token,
      fingerprint: url.startsWith("wss://") ? this.fingerprint : undefined,
    });
  }
}
