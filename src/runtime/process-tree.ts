import { readdirSync, readFileSync } from "node:fs";
import { KILL_GRACE_MS } from "../config/defaults.js";
import { waitUntil } from "../util/wait-until.js";

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  startTime: string;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may itself contain spaces or parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: rest[0]!, ppid: Number(rest[1]), startTime: rest[19]! };
  } catch {
    return undefined;
  }
}

/** Start time in clock ticks since boot; with the pid it identifies a process across pid reuse. */
export function processStartTime(pid: number): string | undefined {
  return readProc(pid)?.startTime;
}

/** A process counts as gone when it no longer exists or is a zombie waiting to be reaped. */
export function isGone(pid: number): boolean {
  const info = readProc(pid);
  return !info || info.state === "Z" || info.state === "X";
}

/** `root` and every process below it, found through /proc (catches children that left the group). */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (!info) continue;
    const list = children.get(info.ppid) ?? [];
    list.push(info.pid);
    children.set(info.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out.filter((p) => !isGone(p));
}

function signal(pids: number[], groupLeader: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-groupLeader, sig);
  } catch {
    /* no such group any more */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Stop a process tree: SIGTERM to its group and every descendant, SIGKILL after the grace
 * period, and return only once every one of them is gone. A slot is never reused before this
 * resolves (huskies reused a slot while the old process still ran).
 */
export async function killTree(root: number, graceMs = KILL_GRACE_MS): Promise<void> {
  let pids = treePids(root);
  if (pids.length === 0) return;
  signal(pids, root, "SIGTERM");
  const gone = () => pids.every(isGone);
  if (await waitUntil(gone, graceMs)) return;
  // Children may have forked meanwhile; look again before the hard kill.
  pids = [...new Set([...pids, ...pids.flatMap(treePids)])];
  signal(pids, root, "SIGKILL");
  if (!(await waitUntil(gone, 10_000)))
    throw new Error(`process tree of ${root} survived SIGKILL: ${pids.filter((p) => !isGone(p)).join(",")}`);
}
