/**
 * One process per checkout (docs/architecture.md, "Faults"): the rule for a lock file found in
 * `.huskies`. Pure: the caller reads the file and asks the OS about the pid.
 *
 * Two `huskies agent` on one checkout share a node key, a replica and worktrees: both claim as
 * the same node, and each one's coders trample the other's (6 stories took 17 coder runs). So the
 * second process must not start; but a lock left by a process that died (SIGKILL, a power cut)
 * must not keep the node from starting either.
 */

/** What the lock file holds. `startTicks`: the holder's start time as the OS counts it, so a reused pid is told apart. */
export interface LockHolder {
  pid: number;
  /** The machine it was written on: a pid means nothing elsewhere (a lock file copied or committed by mistake). */
  host?: string;
  startTicks?: string;
  command?: string;
  since?: number;
}

/** What the OS says of a pid now: not running, or running with this start time (when known). */
export type ProcessState = { running: false } | { running: true; startTicks?: string };

export type LockVerdict = { take: true; stale?: string } | { take: false; holder: LockHolder };

/** Parse the file's text; anything else than a holder (a torn write) is `undefined`. */
export function parseLockHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isInteger(v.pid) || (v.pid as number) <= 0) return undefined;
    return {
      pid: v.pid as number,
      ...(typeof v.host === "string" ? { host: v.host.slice(0, 200) } : {}),
      ...(typeof v.startTicks === "string" ? { startTicks: v.startTicks } : {}),
      ...(typeof v.command === "string" ? { command: v.command.slice(0, 200) } : {}),
      ...(typeof v.since === "number" ? { since: v.since } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether this process (`self`) may take a lock whose file holds `text`: yes when it is
 * unreadable (a crash while writing it) or names a pid that is not running or was reused by
 * another process since; no when its holder is alive (this very process included).
 */
export function lockVerdict(text: string, self: { pid: number; host: string }, state: (pid: number) => ProcessState): LockVerdict {
  const selfPid = self.pid;
  const holder = parseLockHolder(text);
  if (!holder) return { take: true, stale: "the lock file is unreadable" };
  if (holder.host !== undefined && holder.host !== self.host)
    return { take: true, stale: `it was written on another machine (${holder.host})` };
  const now = state(holder.pid);
  if (holder.pid === selfPid) {
    // Our own pid: this very process (same start time) already holds it, else an earlier process
    // had the pid (a container restarts its first process with the same one).
    const self = now.running ? now.startTicks : undefined;
    if (holder.startTicks && self && holder.startTicks === self) return { take: false, holder };
    return { take: true, stale: `an earlier process with pid ${holder.pid} left it` };
  }
  if (!now.running) return { take: true, stale: `process ${holder.pid} is gone` };
  if (holder.startTicks && now.startTicks && holder.startTicks !== now.startTicks)
    return { take: true, stale: `process ${holder.pid} is gone (its pid now belongs to another process)` };
  return { take: false, holder };
}
