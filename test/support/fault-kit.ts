import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogLine, NodeProc } from "./cluster.js";
import { waitFor } from "./wait-for.js";

/** Times (ms) at which `proc` started a job on `story` (optionally of one role). */
export function jobStarts(proc: NodeProc, story: string, role?: string): number[] {
  return proc.logs.filter((l) => l.msg === "job started" && l.story === story && (!role || l.role === role)).map((l) => Number(l.time));
}

/** The shortest gap between two starts of the same story and role on `proc` (Infinity with fewer than two). */
export function shortestRestartGap(proc: NodeProc): number {
  const byStep = new Map<string, number[]>();
  for (const l of proc.logs) {
    if (l.msg !== "job started") continue;
    const key = `${String(l.role)}:${String(l.story)}`;
    byStep.set(key, [...(byStep.get(key) ?? []), Number(l.time)]);
  }
  let gap = Infinity;
  for (const times of byStep.values()) for (let i = 1; i < times.length; i++) gap = Math.min(gap, times[i]! - times[i - 1]!);
  return gap;
}

/** Bytes of log `proc` wrote per minute since `since` (ms; its first line when absent). */
export function logBytesPerMinute(proc: NodeProc, since?: number): number {
  const lines = proc.logs.filter((l) => since === undefined || Number(l.time) >= since);
  const first = since ?? Number(lines[0]?.time ?? Date.now());
  const bytes = lines.reduce((n, l) => n + JSON.stringify(l).length + 1, 0);
  return (bytes * 60_000) / Math.max(1000, Date.now() - first);
}

/** Error-level lines (pino level 50+) of `proc`. */
export function errorLines(proc: NodeProc): LogLine[] {
  return proc.logs.filter((l) => Number(l.level) >= 50);
}

/** CPU time of `pid` so far (ms), from /proc (utime + stime). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Starts measuring `pid`'s CPU; `share()` is its share of one core since then (0..1). */
export function cpuMeter(pid: number): { share(): number } {
  const t0 = Date.now();
  const c0 = cpuMs(pid);
  return { share: () => (cpuMs(pid) - c0) / Math.max(1, Date.now() - t0) };
}

/**
 * A small tmpfs over `dir` (its contents copied in first, so the checkout's `.huskies` keeps its
 * config): a disk that can be filled in a test. Needs root; `available()` says whether mounting
 * works here. `unmount` copies nothing back.
 */
export class SmallDisk {
  private mounted = false;

  constructor(
    readonly dir: string,
    readonly sizeMb: number,
  ) {}

  static available(): boolean {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(tmpdir(), "huskies-tmpfs-probe-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
      execFileSync("umount", [probe], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  }

  mount(): this {
    const keep = mkdtempSync(join(tmpdir(), "huskies-tmpfs-keep-"));
    if (existsSync(this.dir)) cpSync(this.dir, keep, { recursive: true });
    mkdirSync(this.dir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${this.sizeMb}m`, "tmpfs", this.dir]);
    this.mounted = true;
    cpSync(keep, this.dir, { recursive: true });
    rmSync(keep, { recursive: true, force: true });
    return this;
  }

  /** Fill it to the last block. */
  fill(): void {
    for (const bs of ["1M", "4k"]) {
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${join(this.dir, `.filler-${bs}`)}`, `bs=${bs}`], { stdio: "ignore" });
      } catch {
        // dd stops with "No space left on device": that is the point.
      }
    }
  }

  free(): void {
    for (const bs of ["1M", "4k"]) rmSync(join(this.dir, `.filler-${bs}`), { force: true });
  }

  unmount(): void {
    if (!this.mounted) return;
    execFileSync("umount", ["-l", this.dir]);
    this.mounted = false;
  }
}

/** Whether this machine gives processes memory cgroups huskies can make (root, v1 or v2 memory controller). */
export function memoryCgroupsUsable(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (existsSync("/sys/fs/cgroup/memory/memory.oom_control")) return true;
  try {
    return readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("memory");
  } catch {
    return false;
  }
}

/** The memory cgroup of `pid` (v1 or v2), with its usage and a way to set its limit. */
export function memoryCgroupOf(pid: number): { dir: string; usage(): number; limit(bytes: number): void } {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes("memory"));
  if (v1) {
    const dir = join("/sys/fs/cgroup/memory", v1.split(":").slice(2).join(":"));
    return {
      dir,
      usage: () => Number(readFileSync(join(dir, "memory.usage_in_bytes"), "utf8")),
      limit: (bytes) => {
        writeFileSync(join(dir, "memory.limit_in_bytes"), String(bytes));
        try {
          writeFileSync(join(dir, "memory.memsw.limit_in_bytes"), String(bytes));
        } catch {
          // No swap accounting: the limit above is all there is.
        }
      },
    };
  }
  const v2 = lines.find((l) => l.startsWith("0::"))!;
  const dir = join("/sys/fs/cgroup", v2.slice(3));
  return {
    dir,
    usage: () => Number(readFileSync(join(dir, "memory.current"), "utf8")),
    limit: (bytes) => {
      writeFileSync(join(dir, "memory.max"), String(bytes));
      try {
        writeFileSync(join(dir, "memory.swap.max"), "0");
      } catch {
        // No swap controller.
      }
    },
  };
}

/** Wait for a log line of `proc`; on timeout the error carries the tail of its log, to see why. */
export async function waitForLine(proc: NodeProc, match: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
  try {
    return await waitFor(() => proc.logs.find(match), what, timeoutMs);
  } catch (err) {
    const tail = proc.logs
      .slice(-40)
      .map((l) => JSON.stringify(l).slice(0, 300))
      .join("\n");
    throw new Error(`${(err as Error).message}\n--- last lines of ${proc.name} ---\n${tail}`, { cause: err });
  }
}
