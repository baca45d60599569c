import { isIP } from "node:net";

/**
 * Where a confined process may connect through the node's egress proxy. Pure: the proxy resolves
 * the name first and asks about every address it would dial, so a name that resolves to loopback
 * or to the metadata range is refused like the literal address (no DNS-rebinding way around it).
 */
export interface EgressRule {
  /** `[sandbox] allow_hosts`: when non-empty, only these names (exact, or `*.example.com`). */
  allowHosts: readonly string[];
  /** This machine's own interface addresses: a confined process never reaches the node's ports. */
  ownAddresses: ReadonlySet<string>;
}

export type EgressVerdict = { ok: true } | { ok: false; reason: string };

/** Whether the host name (as asked for) is on the team's allow-list, when there is one. */
export function hostAllowed(host: string, allowHosts: readonly string[]): boolean {
  if (allowHosts.length === 0) return true;
  const h = host.toLowerCase().replace(/\.$/, "");
  return allowHosts.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith("*.") ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

/** Whether a resolved address may be dialled: never loopback, link-local, unspecified or the node's own. */
export function addressAllowed(address: string, own: ReadonlySet<string>): EgressVerdict {
  const a = unmapped(address.toLowerCase());
  const family = isIP(a);
  if (family === 0) return { ok: false, reason: `not an address: ${address}` };
  if (own.has(a)) return { ok: false, reason: "an address of this node" };
  if (family === 4) {
    const [x, y] = a.split(".").map(Number) as [number, number];
    if (x === 127) return { ok: false, reason: "loopback" };
    if (x === 0) return { ok: false, reason: "unspecified" };
    if (x === 169 && y === 254) return { ok: false, reason: "link-local (metadata)" };
    if (x >= 224) return { ok: false, reason: "multicast or reserved" };
    return { ok: true };
  }
  if (a === "::1" || a === "::") return { ok: false, reason: "loopback" };
  if (/^fe[89ab]/.test(a)) return { ok: false, reason: "link-local" };
  if (a.startsWith("ff")) return { ok: false, reason: "multicast" };
  // fd00:ec2::254 is the EC2 metadata service over IPv6; unique-local otherwise stays reachable.
  if (a.startsWith("fd00:ec2:")) return { ok: false, reason: "metadata" };
  return { ok: true };
}

/** The whole rule for one connection: the name against the allow-list, each address against the ranges. */
export function egressVerdict(host: string, addresses: readonly string[], rule: EgressRule): EgressVerdict {
  if (!hostAllowed(host, rule.allowHosts)) return { ok: false, reason: `${host} is not in [sandbox] allow_hosts` };
  if (addresses.length === 0) return { ok: false, reason: `${host} did not resolve` };
  for (const a of addresses) {
    const v = addressAllowed(a, rule.ownAddresses);
    if (!v.ok) return { ok: false, reason: `${host} (${a}): ${v.reason}` };
  }
  return { ok: true };
}

/** `::ffff:127.0.0.1` is 127.0.0.1. */
function unmapped(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return m ? m[1]! : a;
}
