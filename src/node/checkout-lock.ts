import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { UserError } from "../errors.js";
import { lockVerdict, type LockHolder, type ProcessState } from "../pipeline/checkout-lock-rule.js";

export interface CheckoutLock {
  release(): void;
  /** Set when a lock left by a process that is gone was taken over: why it was stale. */
  tookOver?: string;
}

/** How often a contended stale lock is tried again before giving up (each try is a few syscalls). */
const ATTEMPTS = 5;

/** The OS's view of a pid: running or not, and its start time (Linux `/proc/<pid>/stat` field 22). */
export function processState(pid: number): ProcessState {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still a running process.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return { running: false };
  }
  return { running: true, startTicks: startTicks(pid) };
}

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function describe(h: LockHolder): string {
  const what = h.command ? `\`${h.command}\`, ` : "";
  const since = h.since ? `since ${new Date(h.since).toISOString()}` : "";
  return `pid ${h.pid}${what || since ? ` (${what}${since})` : ""}`.replace(", )", ")");
}

/**
 * Take `.huskies/node.lock` for this process (one process per checkout), or throw a `UserError`
 * naming the process that holds it. The file is created with O_EXCL, so of two processes starting
 * at once one wins; a stale lock (its pid gone) is renamed away first, which also only one
 * process can do. Released on `release()` and at process exit.
 */
export function acquireCheckoutLock(file: string, command: string, self = process.pid): CheckoutLock {
  const host = hostname();
  const mine: LockHolder = { pid: self, host, startTicks: startTicks(self), command, since: Date.now() };
  const text = JSON.stringify(mine);
  let tookOver: string | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new UserError(`cannot lock ${file}: ${(err as Error).message}`);
      const found = readOr(file);
      if (found === undefined) continue; // gone between the two calls: try again
      const verdict = lockVerdict(found, { pid: self, host }, processState);
      if (!verdict.take) {
        throw new UserError(
          `another huskies process is using this checkout: ${describe(verdict.holder)} holds ${file}; stop it, or run this one in another checkout`,
        );
      }
      tookOver = verdict.stale;
      takeOverStale(file, found);
      continue;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return { ...release(file, text), ...(tookOver ? { tookOver } : {}) };
  }
  throw new UserError(`cannot lock ${file}: other processes keep taking it`);
}

/** Move a stale lock out of the way; if what was moved is not what was judged stale (another process's fresh lock), put it back. */
function takeOverStale(file: string, judged: string): void {
  const aside = `${file}.stale-${process.pid}-${Date.now()}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // another process moved it first
  }
  if (readOr(aside) !== judged) {
    try {
      linkSync(aside, file);
    } catch {
      // A newer lock is in place already; ours to drop either way.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // Nothing to clean.
  }
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function release(file: string, text: string): CheckoutLock {
  let released = false;
  const drop = () => {
    if (released) return;
    released = true;
    process.off("exit", drop);
    // Only our own lock: never one a later process took over.
    if (readOr(file) === text) {
      try {
        unlinkSync(file);
      } catch {
        // Gone already.
      }
    }
  };
  process.on("exit", drop);
  return { release: drop };
}
