import type { AgentRuntime } from "./agent-runtime.js";
import { ClaudeCodeRuntime } from "./claude-code-runtime.js";
import { CodexRuntime } from "./codex-runtime.js";
import { CommandRuntime } from "./command-runtime.js";
import { GeminiRuntime } from "./gemini-runtime.js";

const RUNTIMES: Record<string, AgentRuntime> = {
  "claude-code": new ClaudeCodeRuntime(),
  codex: new CodexRuntime(),
  gemini: new GeminiRuntime(),
  command: new CommandRuntime(),
};

export function runtimeFor(name: string): AgentRuntime {
  const r = RUNTIMES[name];
  if (!r) throw new Error(`unknown runtime ${name}`);
  return r;
}
