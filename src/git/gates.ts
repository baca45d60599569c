import { execa } from "execa";
import { gateEnv } from "../runtime/agent-env.js";

export interface GateResult {
  ok: boolean;
  /** The failing command and the tail of its output, fed back to the coder on failure. */
  output: string;
}

/**
 * Run the project's gate commands in `cwd`, in order, stopping at the first failure.
 * Gates come from project.toml (written by the project owner), so they run through a shell;
 * story text never reaches them. Their environment is the agents' allow-list plus `CI=true`:
 * they run the coder's code, so huskies' tokens and runtime credentials stay out.
 */
export async function runGates(cwd: string, commands: readonly string[], timeoutMs = 30 * 60_000): Promise<GateResult> {
  for (const cmd of commands) {
    const r = await execa(cmd, {
      cwd,
      shell: true,
      reject: false,
      all: true,
      stdin: "ignore",
      timeout: timeoutMs,
      env: gateEnv(),
      extendEnv: false,
    });
    if (r.exitCode !== 0) {
      const out = String(r.all ?? "")
        .split("\n")
        .slice(-60)
        .join("\n");
      return { ok: false, output: `gate \`${cmd}\` failed (exit ${r.exitCode ?? r.signal}):\n${out}` };
    }
  }
  return { ok: true, output: "" };
}
