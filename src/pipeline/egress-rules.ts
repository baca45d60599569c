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
  const a = canonicalAddress(address);
  if (a === undefined) return { ok: false, reason: `not an address: ${address}` };
  if (own.has(a) || [...own].some((o) => canonicalAddress(o) === a)) return { ok: false, reason: "an address of this node" };
  if (isIP(a) === 4) {
    const [x, y] = a.split(".").map(Number) as [number, number];
    if (x === 127) return { ok: false, reason: "loopback" };
    if (x === 0) return { ok: false, reason: "unspecified" };
    if (x === 169 && y === 254) return { ok: false, reason: "link-local (metadata)" };
    if (x >= 224) return { ok: false, reason: "multicast or reserved" };
    return { ok: true };
  }
  const h = a.split(":").map((x) => parseInt(x, 16));
  if (h.slice(0, 7).every((x) => x === 0) && h[7]! <= 1) return { ok: false, reason: "loopback" };
  if ((h[0]! & 0xffc0) === 0xfe80) return { ok: false, reason: "link-local" };
  if (h[0]! >> 8 === 0xff) return { ok: false, reason: "multicast" };
  // fd00:ec2::254 is the EC2 metadata service over IPv6; unique-local otherwise stays reachable.
  if (h[0] === 0xfd00 && h[1] === 0x0ec2) return { ok: false, reason: "metadata" };
  return { ok: true };
}

/**
 * One spelling per address, so the ranges above cannot be dodged by writing an address another
 * way (`::ffff:7f00:1`, `0:0:0:0:0:0:0:1`, `::127.0.0.1` all reach loopback): an IPv4 address as
 * dotted decimal, including one embedded in IPv6 (mapped `::ffff:0:0/96`, compatible `::/96`,
 * NAT64 `64:ff9b::/96`); any other IPv6 address as eight unpadded lowercase hex groups.
 * Undefined when `address` is not an IP address.
 */
export function canonicalAddress(address: string): string | undefined {
  const a = address
    .trim()
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "")
    .toLowerCase();
  const family = isIP(a);
  if (family === 4) return a;
  if (family !== 6) return undefined;
  const h = ipv6Groups(a);
  if (!h) return undefined;
  const v4 = () => `${h[6]! >> 8}.${h[6]! & 255}.${h[7]! >> 8}.${h[7]! & 255}`;
  const zeros = (from: number, to: number) => h.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && h[5] === 0xffff) return v4();
  if (zeros(0, 6) && (h[6] !== 0 || h[7]! > 1)) return v4();
  if (h[0] === 0x64 && h[1] === 0xff9b && zeros(2, 6)) return v4();
  return h.map((x) => x.toString(16)).join(":");
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad split in two). */
function ipv6Groups(a: string): number[] | undefined {
  let text = a;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [b0, b1, b2, b3] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const part = (s: string) => (s ? s.split(":").map((x) => parseInt(x, 16)) : []);
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return undefined;
  const groups = [...left, ...Array<number>(fill).fill(0), ...right];
  return groups.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff) ? groups : undefined;
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
