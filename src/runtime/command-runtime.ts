import { basename } from "node:path";
import type { AgentRuntime, RunningAgent, RunSpec } from "./agent-runtime.js";
import { agentEnv, basicResult, startSupervised } from "./supervised-process.js";
import { renderTemplate, SAFE_KEYS } from "./prompt.js";

/** A command agent's final answer is the end of what it printed. */
const TAIL_LINES = 50;
const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh"]);

/**
 * Any CLI agent (Codex, Gemini CLI, Aider, a script): `command` and `args` are templates,
 * run as an argument vector in the worktree. The story text is handed over as a file
 * (`$HUSKIES_PROMPT_FILE`, `{{prompt_file}}`), never spliced into a shell script.
 */
export class CommandRuntime implements AgentRuntime {
  readonly name = "command";

  start(spec: RunSpec): RunningAgent {
    const vars = templateVars(spec);
    const args = spec.slot.args.map((a) => renderTemplate(a, vars));
    const isShellScript = SHELLS.has(basename(spec.slot.command!)) && spec.slot.args.includes("-c");
    if (isShellScript) {
      const unsafe = spec.slot.args.join(" ").match(/\{\{(\w+)\}\}/g)?.filter((m) => !SAFE_KEYS.has(m.slice(2, -2)));
      if (unsafe?.length) {
        throw new Error(`slot ${spec.slot.name}: ${unsafe.join(", ")} cannot be used inside a shell script; read $HUSKIES_PROMPT_FILE instead`);
      }
    }
    const tail: string[] = [];
    return startSupervised(renderTemplate(spec.slot.command!, vars), args, {
      cwd: spec.cwd,
      env: agentEnv({ ...spec.env, ...envFor(spec) }),
      inactivityMs: spec.inactivityMs,
      onLine: (stream, text) => {
        if (stream === "stdout" && tail.push(text) > TAIL_LINES) tail.shift();
        spec.onLog({ kind: stream, text });
      },
      finish: (raw) => ({ ...basicResult(raw), finalText: tail.join("\n") }),
    });
  }
}

export function templateVars(spec: RunSpec): Record<string, string> {
  return {
    story_id: spec.storyId,
    worktree_path: spec.cwd,
    base_branch: spec.baseBranch,
    prompt_file: spec.promptFile,
    story_markdown: spec.storyMarkdown,
    prompt: spec.prompt,
  };
}

export function envFor(spec: RunSpec): Record<string, string> {
  return {
    HUSKIES_STORY_ID: spec.storyId,
    HUSKIES_WORKTREE: spec.cwd,
    HUSKIES_BASE_BRANCH: spec.baseBranch,
    HUSKIES_PROMPT_FILE: spec.promptFile,
    HUSKIES_SLOT: spec.slot.name,
  };
}
