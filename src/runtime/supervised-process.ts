import { createInterface } from "node:readline";
import { execa } from "execa";
import { AGENT_STARTUP_GRACE_MS } from "../config/defaults.js";
import type { RunningAgent, RunResult, StopKind } from "./agent-runtime.js";
import { logger } from "../log.js";
import { killTree } from "./process-tree.js";

/** How a supervised process ended, before the runtime turns it into a result. */
export interface RawEnd {
  exit: number | null;
  signal?: string;
  durationMs: number;
  /** The first stop: by the caller, or by supervision itself (inactivity). */
  stopped?: { reason: string; kind: StopKind };
  /** Set when the process never ran (missing binary, not executable). */
  startError?: string;
  endedAt: number;
}

export interface SupervisedOptions {
  cwd: string;
  env: Record<string, string>;
  /** Written to the process's stdin, which is then closed (the prompt; never on the command line). */
  input?: string;
  inactivityMs: number;
  onLine(stream: "stdout" | "stderr", line: string): void;
  /** Turns the raw end into the runtime's result (e.g. with turns and cost read from events). */
  finish(raw: RawEnd): RunResult;
}

/** A supervised run, plus `stop` for the runtime's own reasons (a usage limit seen live). */
export interface SupervisedRun extends RunningAgent {
  stop(reason: string, kind?: StopKind): Promise<void>;
}

/**
 * Run a process in its own process group, read its output line by line, kill it when silent
 * for `inactivityMs`, and make `stop` (and the end of the run) take the whole tree down.
 *
 * Silence is counted from the first output line. Before it, the process gets at least
 * `AGENT_STARTUP_GRACE_MS`: loading a 250 MB `claude` on a busy machine is not an agent hanging
 * on its work, and a short test timeout must not fire before the agent has even started. A
 * process that never prints anything is still killed, after the longer of the two.
 */
export function startSupervised(command: string, args: string[], opts: SupervisedOptions): SupervisedRun {
  const started = Date.now();
  const child = execa(command, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: "ignore" as const }),
    buffer: false,
    reject: false,
    maxBuffer: Number.MAX_SAFE_INTEGER,
  });
  const pid = child.pid ?? -1;
  let stopped: RawEnd["stopped"];
  let stopping: Promise<void> | undefined;

  const stop = (reason: string, kind: StopKind = "lost"): Promise<void> => {
    stopped ??= { reason, kind };
    stopping ??= pid > 0 ? killTree(pid) : Promise.resolve();
    return stopping;
  };

  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(
      () =>
        void stop(`no output for ${Math.round(opts.inactivityMs / 1000)}s (inactivity timeout)`, "story_failure").catch(() => undefined),
      ms,
    );
  };
  arm(Math.max(opts.inactivityMs, AGENT_STARTUP_GRACE_MS));
  for (const stream of ["stdout", "stderr"] as const) {
    const s = child[stream];
    if (!s) continue;
    createInterface({ input: s, crlfDelay: Infinity }).on("line", (line) => {
      arm(opts.inactivityMs);
      try {
        opts.onLine(stream, line);
      } catch (err) {
        logger("runtime").error({ err: (err as Error).message, pid }, "handling an agent's output line failed");
      }
    });
  }

  const done = (async (): Promise<RunResult> => {
    const res = await child;
    clearTimeout(timer);
    // The leader is gone; anything it left behind in its group goes with it.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* group already empty */
    }
    if (stopping) await stopping.catch(() => undefined);
    const failedToStart = res.failed && res.exitCode === undefined && !res.signal;
    return opts.finish({
      exit: res.exitCode ?? null,
      signal: res.signal ?? undefined,
      durationMs: Date.now() - started,
      stopped,
      startError: failedToStart && !stopped ? `could not start ${command}: ${res.shortMessage ?? res.message}` : undefined,
      endedAt: Date.now(),
    });
  })();

  return { pid, done, stop };
}
