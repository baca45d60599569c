import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { AGENT_STARTUP_GRACE_MS } from "../config/defaults.js";
import type { RunningAgent, RunResult, StopKind } from "./agent-runtime.js";
import { logger } from "../log.js";
import { killTree } from "./process-tree.js";
import { openRunCgroup } from "./memory-cgroup.js";

/** After the leader exits, how long its last output may take to arrive through the pipes. */
const OUTPUT_DRAIN_MS = 2000;

/** How a supervised process ended, before the runtime turns it into a result. */
export interface RawEnd {
  exit: number | null;
  signal?: string;
  durationMs: number;
  /** The first stop: by the caller, or by supervision itself (inactivity). */
  stopped?: { reason: string; kind: StopKind };
  /** Set when the process never ran (missing binary, not executable). */
  startError?: string;
  /**
   * The kernel's OOM killer ended it: the run's memory cgroup counted a kill and the leader died
   * of SIGKILL (or, for a shell, exit 137). Never set where cgroups are unavailable.
   */
  oomKilled?: boolean;
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
  // node's own spawn, not execa: this runs on the claim → coder path of every agent, and execa's
  // ~140 modules cost an idle agent ~17 MB and its first claim ~115 ms to load (measured).
  // Its own memory cgroup where the machine allows it, so an OOM kill can be told from a kill -9.
  const cgroup = openRunCgroup();
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
  });
  if (opts.input !== undefined && child.stdin) {
    // A process that exits without reading its stdin must not crash the node with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once("error", (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  // Output still in the pipes when the leader exits: read it, but never wait on a pipe that a
  // left-behind process of the group holds open (the group is killed right after the exit).
  const drained = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const pid = child.pid ?? -1;
  // Right after spawn: the agent has not forked yet, so its whole tree starts inside the cgroup.
  if (pid > 0) cgroup?.add(pid);
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
    const res = await exited;
    clearTimeout(timer);
    // The leader is gone; anything it left behind in its group goes with it.
    if (pid > 0) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* group already empty */
      }
    }
    await Promise.race([drained, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS).unref())]);
    if (stopping) await stopping.catch(() => undefined);
    const oomKills = cgroup?.oomKills() ?? 0;
    cgroup?.remove();
    return opts.finish({
      exit: res.code,
      signal: res.signal ?? undefined,
      durationMs: Date.now() - started,
      stopped,
      startError: res.error && !stopped ? `could not start ${command}: ${res.error.message}` : undefined,
      oomKilled: oomKills > 0 && (res.signal === "SIGKILL" || res.code === 137) ? true : undefined,
      endedAt: Date.now(),
    });
  })();

  return { pid, done, stop };
}
