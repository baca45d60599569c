import { hostname } from "node:os";
import { UserError } from "../errors.js";
import { isLoopbackName, isUnspecified, normalizeHostname } from "../server/served-names.js";
import { SYNC_PATH } from "../sync/sync-server.js";

export interface AdvertisedAddressOptions {
  role: "rendezvous" | "agent";
  /** `--advertise`: used as given. */
  explicit?: string;
  /** The address the node listens on (`--host`). */
  boundHost: string;
  tls: boolean;
  port: () => number;
  /** `public_urls` (read each time: project.toml edits apply). */
  publicUrls: () => readonly string[];
}

/**
 * The `/crdt-sync` URL this node tells others to dial (its `nodes` entry, `/health`). It must be
 * one other hosts can reach, so it is never a loopback address unless the node only listens
 * there. In order: `--advertise`; on the rendezvous `public_urls[0]`; the specific address the
 * node is bound to; the local address of its link to the rendezvous (the interface that reaches
 * the project's network — the best guess a node bound to all interfaces has); and only then the
 * machine's host name.
 */
export class AdvertisedAddress {
  private linkHost: string | undefined;
  private readonly explicit: string | undefined;

  constructor(private readonly o: AdvertisedAddressOptions) {
    this.explicit = o.explicit === undefined ? undefined : parseAdvertise(o.explicit);
  }

  current(): string {
    if (this.explicit) return this.explicit;
    const publicUrl = this.o.role === "rendezvous" ? this.o.publicUrls()[0] : undefined;
    if (publicUrl) return syncUrlOf(publicUrl);
    const bound = normalizeHostname(this.o.boundHost);
    const host = !isUnspecified(bound) ? bound : (this.linkHost ?? hostname());
    return `${this.o.tls ? "wss" : "ws"}://${hostPart(host)}:${this.o.port()}${SYNC_PATH}`;
  }

  /**
   * The upstream link came up from `localAddress` (the socket's local end). Returns whether the
   * advertised address changed, so the caller can re-announce it at once.
   */
  learnLocalAddress(localAddress: string | undefined): boolean {
    if (!localAddress) return false;
    const before = this.current();
    const host = normalizeHostname(localAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1"));
    // A loopback link says nothing about how other hosts reach us; keep any better guess.
    if (isLoopbackName(host) && this.linkHost && !isLoopbackName(this.linkHost)) return false;
    this.linkHost = host;
    return this.current() !== before;
  }
}

/** `host` as it goes into a URL (IPv6 in brackets). */
function hostPart(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** The `/crdt-sync` URL of a node reached at `url` (http(s) → ws(s), the path appended to its base). */
export function syncUrlOf(url: string): string {
  const u = new URL(url.replace(/^http(s?):/i, "ws$1:"));
  const base = u.pathname.replace(/\/+$/, "");
  return `${u.protocol}//${u.host}${base.endsWith(SYNC_PATH) ? base : `${base}${SYNC_PATH}`}`;
}

/** Validate `--advertise`: a ws(s)/http(s) URL with a host; returned as the `/crdt-sync` ws(s) URL. */
export function parseAdvertise(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UserError(`--advertise must be a URL like wss://10.0.0.2:3002/crdt-sync, got ${value}`);
  }
  if (!/^(wss?|https?):$/.test(u.protocol) || !u.hostname)
    throw new UserError(`--advertise must be a ws://, wss://, http:// or https:// URL with a host, got ${value}`);
  if (isUnspecified(u.hostname)) throw new UserError(`--advertise must name an address other hosts can dial, not ${u.hostname}`);
  return syncUrlOf(value);
}
