import type { SandboxMode } from "../config/agents-config.js";
import type { Confinement } from "../confinement/confine.js";
import { confinementFor } from "../confinement/default.js";
import { gateEnv } from "../runtime/agent-env.js";

export interface GateResult {
  ok: boolean;
  /** The failing command and the tail of its output, fed back to the coder on failure. */
  output: string;
}

/** A failing gate's output is fed back to the coder: its tail says what broke. */
const TAIL_LINES = 60;
/** Output lines kept while a gate runs (a chatty test suite must not grow the node's memory). */
const KEEP_LINES = 4000;

/** Where and how the gates of one story run. */
export interface GateRun {
  cwd: string;
  storyId: string;
  projectRoot?: string;
  baseBranch: string;
  /** The branch a gate's git may move (the coder's own); none on the merged tree. */
  ownBranch?: string;
  /** `[gates] sandbox`. */
  mode?: SandboxMode;
  confinement?: Confinement;
  timeoutMs?: number;
}

/**
 * Run the project's gate commands, in order, stopping at the first failure. Gates come from
 * project.toml (written by the project owner), so they run through a shell; story text never
 * reaches them. But they run the story's code (a test file the coder rewrote), so they are
 * confined like the coder (`src/confinement/`): no keys, no other processes' environments, no
 * writes outside the checkout. Their environment is the agents' allow-list plus `CI=true`.
 */
export async function runGates(commands: readonly string[], g: GateRun): Promise<GateResult> {
  for (const cmd of commands) {
    const r = await runShell(cmd, g);
    if (r.code !== 0) {
      const out = r.output.slice(-TAIL_LINES).join("\n");
      return { ok: false, output: `gate \`${cmd}\` failed (exit ${r.code ?? r.signal ?? r.error}):\n${out}` };
    }
  }
  return { ok: true, output: "" };
}

/** One gate command, confined: stdout and stderr interleaved by line, the whole tree killed on timeout. */
async function runShell(cmd: string, g: GateRun): Promise<{ code: number | null; signal?: string; error?: string; output: string[] }> {
  const timeoutMs = g.timeoutMs ?? 30 * 60_000;
  const output: string[] = [];
  const run = confinementFor(g).run({
    label: "gate",
    storyId: g.storyId,
    cwd: g.cwd,
    projectRoot: g.projectRoot,
    mode: g.mode,
    ownBranch: g.ownBranch,
    baseBranch: g.baseBranch,
    command: "/bin/sh",
    args: ["-c", cmd],
    env: gateEnv(),
    // A gate may be silent for as long as it may run at all.
    inactivityMs: timeoutMs,
    onLine: (_stream, line) => {
      output.push(line);
      if (output.length > KEEP_LINES) output.shift();
    },
    finish: (raw) => ({
      ok: raw.exit === 0,
      outcome: raw.exit === 0 ? "done" : "story_failure",
      reason: raw.startError ?? (raw.signal ? `killed by ${raw.signal}` : `exit ${raw.exit}`),
      exit: raw.exit,
      durationMs: raw.durationMs,
      error: raw.startError,
    }),
  });
  const timer = setTimeout(() => {
    output.push(`(gate timed out after ${Math.round(timeoutMs / 1000)}s)`);
    void run.stop("gate timed out", "story_failure").catch(() => undefined);
  }, timeoutMs);
  try {
    const r = await run.done;
    if (r.error) output.push(r.error);
    return { code: r.exit, signal: r.exit === null ? r.reason : undefined, error: r.error, output };
  } finally {
    clearTimeout(timer);
  }
}
