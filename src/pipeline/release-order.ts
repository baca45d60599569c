/**
 * Which nodes run an older huskies release than the newest in the fleet (the board marks them).
 * Versions are semver (`1.4.0`, `1.5.0-rc.1`); a node without one, or with one that is not
 * semver, is left out rather than guessed at. Pure.
 */

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-.]+)?$/;

interface Parsed {
  core: [number, number, number];
  pre: string[];
}

function parse(v: unknown): Parsed | undefined {
  if (typeof v !== "string" || v.length > 100) return undefined;
  const m = SEMVER.exec(v.trim());
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split(".") : [] };
}

export function isSemver(v: unknown): v is string {
  return parse(v) !== undefined;
}

/** Semver precedence: negative when a < b, 0 when equal (build metadata ignored), positive when a > b. */
export function compareVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) throw new Error(`not a semver version: ${!x ? a : b}`);
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i]! - y.core[i]!;
  // A pre-release sorts before its release; identifiers compare numerically when both are numbers.
  if (!x.pre.length || !y.pre.length) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i]!;
    const q = y.pre[i]!;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return x.pre.length - y.pre.length;
}

/** The newest version among the nodes, or undefined when none states a valid one. */
export function newestVersion(nodes: ReadonlyArray<{ version?: unknown }>): string | undefined {
  let best: string | undefined;
  for (const n of nodes) if (isSemver(n.version) && (best === undefined || compareVersions(n.version, best) > 0)) best = n.version;
  return best;
}

/** Ids of the nodes whose version is older than the newest in `nodes`. */
export function nodesBehind(nodes: ReadonlyArray<{ id: string; version?: unknown }>): Map<string, { version: string; newest: string }> {
  const newest = newestVersion(nodes);
  const out = new Map<string, { version: string; newest: string }>();
  if (!newest) return out;
  for (const n of nodes) if (isSemver(n.version) && compareVersions(n.version, newest) < 0) out.set(n.id, { version: n.version, newest });
  return out;
}
