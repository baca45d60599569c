import type { ProcSample } from "./soak-fleet.js";

/** One reading of the whole fleet. */
export interface SoakSample {
  /** Minutes since the soak began. */
  t: number;
  /** Items in the document (live, done and archived). */
  items: number;
  /** Stories filed and not yet done. */
  live: number;
  procs: Record<string, ProcSample | undefined>;
}

export interface RoleVerdict {
  rssMb: [number, number];
  rawRssMb: [number, number];
  heapMb: [number, number];
  fds: [number, number];
  replicaKb: [number, number];
  /** RSS growth the items stored meanwhile explain (heap per item × items added), MB. */
  allowanceMb: number;
  rssOk: boolean;
  fdsOk: boolean;
}

/** The goals of the issue: RSS at the end within 10 % of the reference (plus the allowance); descriptors at most 10 more. */
export const RSS_TOLERANCE = 0.1;
export const FD_TOLERANCE = 10;

/**
 * Compare each role at the reference minute with the end of the run. A role restarting at the
 * instant of a reading has no sample there; the nearest reading that has one stands in (towards
 * the middle of the run, so the reference stays early and the end stays late).
 */
export function judgeMemory(
  samples: SoakSample[],
  o: { referenceMin: number; endMin: number; heapBytesPerItem: number },
): { reference: number; end: number; roles: Record<string, RoleVerdict> } | undefined {
  const inRun = samples.filter((s) => s.t <= o.endMin + 1e-9);
  const refIdx = inRun.findIndex((s) => s.t >= o.referenceMin - 1e-9);
  if (refIdx < 0 || refIdx >= inRun.length - 1) return undefined;
  const roles: Record<string, RoleVerdict> = {};
  const names = Object.keys(inRun[refIdx]!.procs);
  let reference = inRun[refIdx]!.t;
  let end = inRun.at(-1)!.t;
  for (const name of names) {
    const from = inRun.slice(refIdx).find((s) => s.procs[name]);
    const to = [...inRun].reverse().find((s) => s.procs[name]);
    if (!from || !to || from === to) continue;
    const a = from.procs[name]!;
    const b = to.procs[name]!;
    const allowanceMb = Math.max(0, ((to.items - from.items) * o.heapBytesPerItem) / (1024 * 1024));
    roles[name] = {
      rssMb: [a.rssMb, b.rssMb],
      rawRssMb: [a.rawRssMb, b.rawRssMb],
      heapMb: [a.heapMb, b.heapMb],
      fds: [a.fds, b.fds],
      replicaKb: [a.replicaKb, b.replicaKb],
      allowanceMb: round1(allowanceMb),
      rssOk: b.rssMb <= a.rssMb * (1 + RSS_TOLERANCE) + allowanceMb,
      fdsOk: b.fds <= a.fds + FD_TOLERANCE,
    };
    reference = Math.min(reference, from.t);
    end = Math.max(end, to.t);
  }
  return { reference, end, roles };
}

/** Stories whose work was delivered more than once, from per-story counts. */
export function twice(counts: Map<string, number>): string[] {
  return [...counts].filter(([, n]) => n > 1).map(([id]) => id);
}

export function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

/** The timeline in compact form for the JSON line: per sample `[t, items, live, {role: [rssMb, rawRssMb, heapMb, externalMb, fds, replicaKb, walKb, life]}]`. */
export function compactTimeline(samples: SoakSample[]): unknown[] {
  return samples.map((s) => [
    s.t,
    s.items,
    s.live,
    Object.fromEntries(
      Object.entries(s.procs).map(([k, v]) => [
        k,
        v ? [v.rssMb, v.rawRssMb, v.heapMb, v.externalMb, v.fds, v.replicaKb, v.walKb, v.life] : null,
      ]),
    ),
  ]);
}
