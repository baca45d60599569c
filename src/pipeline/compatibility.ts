/**
 * Which releases work together (README "Versions"). Each node speaks a range of protocols, from
 * `min` to `protocol`; two nodes link when their ranges overlap, and then speak the highest
 * protocol both know. When they do not overlap, the side whose range lies below is the one to
 * upgrade.
 */
export interface ProtocolRange {
  protocol: number;
  min: number;
}

/** A frame from a release before versioning carried no `protocol`: that wire is protocol 1. */
export const UNVERSIONED_PROTOCOL = 1;

/** The protocol two nodes speak together, or undefined when their ranges do not overlap. */
export function commonProtocol(self: ProtocolRange, peer: ProtocolRange): number | undefined {
  const p = Math.min(self.protocol, peer.protocol);
  return p >= Math.max(self.min, peer.min) ? p : undefined;
}

/** The one line a node logs when it refuses a peer's protocol: both releases, and who upgrades. */
export function incompatibilityMessage(
  self: ProtocolRange & { version: string },
  peer: ProtocolRange & { version?: string; nodeId: string },
): string {
  const peerRelease = `huskies ${peer.version ?? "before 0.3.0"} (${rangeText(peer)})`;
  const ours = `huskies ${self.version} (${rangeText(self)})`;
  const upgrade = peer.protocol < self.min ? `upgrade node ${peer.nodeId.slice(0, 12)}` : "upgrade this node";
  return `refusing node ${peer.nodeId.slice(0, 12)}: it runs ${peerRelease}, this node runs ${ours}: ${upgrade}`;
}

function rangeText(r: ProtocolRange): string {
  return r.min === r.protocol ? `protocol ${r.protocol}` : `protocols ${r.min}–${r.protocol}`;
}
/** `a` older than `b`, comparing dotted release numbers (pre-release tags ignored). */
export function releaseBehind(a: string, b: string): boolean {
  const parse = (v: string) =>
    v
      .split(/[-+]/)[0]!
      .split(".")
      .map((p) => Number.parseInt(p, 10) || 0);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}
