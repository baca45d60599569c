import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { NodeProc } from "./cluster.js";

const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU seconds (user + system) a live process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Bytes a node has logged so far (its JSON lines as written). */
export function logBytes(p: NodeProc): number {
  let n = 0;
  for (const l of p.logs) n += JSON.stringify(l).length + 1;
  return n;
}

/**
 * What a set of processes cost over a window: CPU as a share of one core, and log volume per
 * minute. `sample()` at the start, `since()` at the end.
 */
export function costMeter(procs: NodeProc[]): { since(): Array<{ name: string; cpuShare: number; logBytesPerMin: number }> } {
  const t0 = performance.now();
  const start = procs.map((p) => ({ cpu: cpuSeconds(p.proc.pid!), log: logBytes(p) }));
  return {
    since() {
      const secs = (performance.now() - t0) / 1000;
      return procs.map((p, i) => ({
        name: p.name,
        cpuShare: (cpuSeconds(p.proc.pid!) - start[i]!.cpu) / secs,
        logBytesPerMin: ((logBytes(p) - start[i]!.log) / secs) * 60,
      }));
    },
  };
}
