import { spawn } from "node:child_process";
import { gateEnv } from "../runtime/agent-env.js";
import { killTree } from "../runtime/process-tree.js";

export interface GateResult {
  ok: boolean;
  /** The failing command and the tail of its output, fed back to the coder on failure. */
  output: string;
}

/** A failing gate's output is fed back to the coder: its tail says what broke. */
const TAIL_LINES = 60;
/** Output kept while a gate runs (a chatty test suite must not grow the node's memory). */
const KEEP_BYTES = 256 * 1024;

/**
 * Run the project's gate commands in `cwd`, in order, stopping at the first failure.
 * Gates come from project.toml (written by the project owner), so they run through a shell;
 * story text never reaches them. Their environment is the agents' allow-list plus `CI=true`:
 * they run the coder's code, so huskies' tokens and runtime credentials stay out.
 */
export async function runGates(cwd: string, commands: readonly string[], timeoutMs = 30 * 60_000): Promise<GateResult> {
  for (const cmd of commands) {
    const r = await runShell(cmd, cwd, timeoutMs);
    if (r.code !== 0) {
      const out = r.output.split("\n").slice(-TAIL_LINES).join("\n");
      return { ok: false, output: `gate \`${cmd}\` failed (exit ${r.code ?? r.signal ?? r.error}):\n${out}` };
    }
  }
  return { ok: true, output: "" };
}

/** One gate command in its own process group: stdout and stderr interleaved, the whole tree killed on timeout. */
function runShell(
  cmd: string,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; signal?: string; error?: string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, { cwd, shell: true, detached: true, env: gateEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-KEEP_BYTES);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const timer = setTimeout(() => {
      output += `\n(gate timed out after ${Math.round(timeoutMs / 1000)}s)`;
      if (child.pid) void killTree(child.pid).catch(() => undefined);
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, error: err.message, output });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal: signal ?? undefined, output });
    });
  });
}
