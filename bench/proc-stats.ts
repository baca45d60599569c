import { readdirSync, readFileSync } from "node:fs";

/** Linux reports utime/stime in clock ticks of 10 ms (USER_HZ = 100). */
const CLOCK_TICKS = 100;

/** Resident set size of `pid` in MB (one decimal). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 102.4) / 10;
}

/** CPU time of `pid` so far in ms, from /proc/<pid>/stat (utime + stime, 10 ms resolution). */
export function cpuMsFromStat(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
}

/**
 * CPU time of `pid` so far in ms with nanosecond resolution: the sum over its live threads of
 * /proc/<pid>/task/<tid>/schedstat (time on CPU). The stat figure counts in 10 ms ticks, too
 * coarse for a phase in which a rendezvous spends a few hundred ms. Falls back to stat.
 */
export function cpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return ns / 1e6;
  } catch {
    return cpuMsFromStat(pid);
  }
}

/** CPU time of the main thread of `pid` in ms (JavaScript, and GC work done on that thread). */
export function mainThreadCpuMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return cpuMsFromStat(pid);
  }
}

/** Least-squares slope of log(y) over log(x): the exponent k in y ∝ x^k (null if undefined). */
export function logLogSlope(points: Array<[number, number]>): number | null {
  const pts = points.filter(([x, y]) => x > 0 && y > 0).map(([x, y]) => [Math.log(x), Math.log(y)] as const);
  if (pts.length < 2) return null;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return null;
  return Math.round((pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx) * 100) / 100;
}
