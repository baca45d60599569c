import { hostname, networkInterfaces } from "node:os";

/**
 * Which host names a node answers to and which browser origins it trusts. A browser sends the
 * name it resolved in `Host`; a DNS-rebinding page resolves its own name to this machine, so any
 * name the node does not serve means "a page on another site is talking to me".
 */
export interface ServedNamesOptions {
  /** The address the server is bound to (`--host`). */
  boundHost: string;
  /** The `--advertise` URL, if any (ws/wss/http/https). */
  advertise?: string;
  /** `public_urls` from project.toml. */
  publicUrls: readonly string[];
  /** `allowed_origins` from project.toml. */
  allowedOrigins: readonly string[];
}

/** Lower-case, without IPv6 brackets or a trailing dot: the form names are compared in. */
export function normalizeHostname(name: string): string {
  return name
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
}

/** The hostname of a `Host` header (`name`, `name:port`, `[v6]:port`), or undefined when malformed. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader || /[\s/?#@\\]/.test(hostHeader)) return undefined;
  try {
    return normalizeHostname(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return undefined;
  }
}

export function isLoopbackName(name: string): boolean {
  const h = normalizeHostname(name);
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const UNSPECIFIED = new Set(["0.0.0.0", "::", ""]);

export function isUnspecified(host: string): boolean {
  return UNSPECIFIED.has(normalizeHostname(host));
}

/** The origin (`scheme://host[:port]`) of a URL, ws(s) mapped to http(s); undefined when not a URL. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url.replace(/^ws(s?):/i, "http$1:"));
    return /^https?:$/.test(u.protocol) ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

function hostOfUrl(url: string): string | undefined {
  try {
    return normalizeHostname(new URL(url).hostname) || undefined;
  } catch {
    return undefined;
  }
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => normalizeHostname(i.address.replace(/%.*$/, ""))));
}

/** The names a node serves (besides every loopback name): bound address, interfaces, public and advertised hosts. */
export function servedHostnames(o: ServedNamesOptions): Set<string> {
  const names = new Set<string>(["localhost", "127.0.0.1", "::1"]);
  const bound = normalizeHostname(o.boundHost);
  if (isUnspecified(bound)) {
    for (const a of localAddresses()) names.add(a);
    names.add(normalizeHostname(hostname()));
  } else {
    names.add(bound);
  }
  for (const url of [...o.publicUrls, ...(o.advertise ? [o.advertise] : [])]) {
    const h = hostOfUrl(url);
    if (h) names.add(h);
  }
  return names;
}

/** Whether `name` (already normalised) is one this node serves. */
export function servesHostname(o: ServedNamesOptions, name: string): boolean {
  return isLoopbackName(name) || servedHostnames(o).has(name);
}

/** Origins trusted besides the request's own: `allowed_origins`, and the origins of public and advertised URLs. */
export function trustedOrigins(o: ServedNamesOptions): Set<string> {
  const out = new Set<string>();
  for (const url of [...o.allowedOrigins, ...o.publicUrls, ...(o.advertise ? [o.advertise] : [])]) {
    const origin = originOf(url);
    if (origin) out.add(origin);
  }
  return out;
}
