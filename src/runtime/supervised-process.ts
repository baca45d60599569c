import { createInterface } from "node:readline";
import { execa } from "execa";
import type { RunningAgent, RunResult } from "./agent-runtime.js";
import { killTree } from "./process-tree.js";

export interface SupervisedOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  inactivityMs: number;
  onLine(stream: "stdout" | "stderr", line: string): void;
  /** Turns the raw exit into the runtime's result (e.g. with turns and cost read from events). */
  finish(raw: { exit: number | null; signal?: string; durationMs: number; killedFor?: string }): RunResult;
}

/**
 * Run a process in its own process group, read its output line by line, kill it when silent
 * for `inactivityMs`, and make `stop` (and the end of the run) take the whole tree down.
 */
export function startSupervised(command: string, args: string[], opts: SupervisedOptions): RunningAgent {
  const started = Date.now();
  const child = execa(command, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    stdin: "ignore",
    buffer: false,
    reject: false,
    maxBuffer: Number.MAX_SAFE_INTEGER,
  });
  const pid = child.pid ?? -1;
  let killedFor: string | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (reason: string): Promise<void> => {
    killedFor ??= reason;
    stopping ??= pid > 0 ? killTree(pid) : Promise.resolve();
    return stopping;
  };

  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void stop(`no output for ${Math.round(opts.inactivityMs / 1000)}s (inactivity timeout)`), opts.inactivityMs);
  };
  touch();
  for (const stream of ["stdout", "stderr"] as const) {
    const s = child[stream];
    if (!s) continue;
    createInterface({ input: s, crlfDelay: Infinity }).on("line", (line) => {
      touch();
      opts.onLine(stream, line);
    });
  }

  const done = (async (): Promise<RunResult> => {
    const res = await child;
    clearTimeout(timer);
    // The leader is gone; anything it left behind in its group goes with it.
    try { process.kill(-pid, "SIGKILL"); } catch { /* group already empty */ }
    if (stopping) await stopping.catch(() => undefined);
    const failedToStart = res.failed && res.exitCode === undefined && !res.signal;
    return opts.finish({
      exit: res.exitCode ?? null,
      signal: res.signal ?? undefined,
      durationMs: Date.now() - started,
      killedFor: killedFor ?? (failedToStart ? `could not start ${command}: ${res.shortMessage ?? res.message}` : undefined),
    });
  })();

  return { pid, done, stop };
}

/** The common part of a result: a stop or kill is a failure with its reason; so is a non-zero exit. */
export function basicResult(raw: { exit: number | null; signal?: string; durationMs: number; killedFor?: string }): RunResult {
  if (raw.killedFor) return { ok: false, exit: raw.exit, durationMs: raw.durationMs, error: raw.killedFor };
  if (raw.exit !== 0) return { ok: false, exit: raw.exit, durationMs: raw.durationMs, error: raw.signal ? `killed by ${raw.signal}` : `exited with code ${raw.exit}` };
  return { ok: true, exit: 0, durationMs: raw.durationMs };
}

/** The agent's environment: the node's own, minus what would confuse a nested agent. */
export function agentEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ...extra };
  // Claude Code refuses to start nested inside another Claude Code session when this is set.
  delete env.CLAUDECODE;
  delete env.HUSKIES_ADMIN_TOKEN;
  return env;
}
