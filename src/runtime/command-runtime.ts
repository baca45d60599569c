import type { AgentRuntime, RunningAgent, RunSpec } from "./agent-runtime.js";
import { agentEnv, huskiesVars } from "./agent-env.js";
import { renderTemplate } from "./prompt.js";
import { classifyRun } from "./run-outcome.js";
import { confinementFor } from "../confinement/default.js";

/** Output lines kept for the final text and the error message. */
const TAIL_LINES = 200;

/**
 * Any CLI agent (Codex, Gemini CLI, Aider, a script): `command` and `args` are templates of
 * huskies-made values only (checked when the config is loaded), run as an argument vector in the
 * worktree. The story reaches it as a file (`$HUSKIES_PROMPT_FILE`, `{{prompt_file}}`). Exit 0 is
 * done, exit 75 (`NODE_FAILURE_EXIT`) "this node cannot work now", anything else a story failure.
 */
export class CommandRuntime implements AgentRuntime {
  readonly name = "command";

  start(spec: RunSpec): RunningAgent {
    const vars = templateVars(spec);
    const stdout: string[] = [];
    const stderr: string[] = [];
    // Confined like every process a story controls (bwrap; `sandbox = "off"` runs it as it is).
    return confinementFor(spec).run({
      label: spec.slot.name,
      storyId: spec.storyId,
      cwd: spec.cwd,
      projectRoot: spec.projectRoot,
      mode: spec.slot.sandbox,
      ownBranch: spec.ownBranch,
      baseBranch: spec.baseBranch,
      channel: spec.channel,
      readOnly: spec.readOnly,
      readFiles: [spec.promptFile],
      command: renderTemplate(spec.slot.command!, vars),
      args: spec.slot.args.map((a) => renderTemplate(a, vars)),
      env: agentEnv({ kind: "command", slotEnv: spec.slot.env, extra: spec.env, huskies: huskiesVars(spec) }),
      inactivityMs: spec.inactivityMs,
      onLine: (stream, text) => {
        const tail = stream === "stdout" ? stdout : stderr;
        tail.push(text);
        if (tail.length > TAIL_LINES) tail.shift();
        spec.onLog({ kind: stream, text });
      },
      finish: (raw) => {
        const c = classifyRun({ runtime: "command", events: [], stdout, stderr, ...raw });
        return { ...c, ok: c.outcome === "done", exit: raw.exit, durationMs: raw.durationMs };
      },
    });
  }
}

/** The values a command slot's templates may use (see `COMMAND_TEMPLATE_KEYS`). */
export function templateVars(spec: RunSpec): Record<string, string> {
  return { story_id: spec.storyId, worktree_path: spec.cwd, base_branch: spec.baseBranch, prompt_file: spec.promptFile };
}
