import type { AgentRuntime } from "./agent-runtime.js";
import { ClaudeCodeRuntime } from "./claude-code-runtime.js";
import { CommandRuntime } from "./command-runtime.js";

const RUNTIMES: Record<string, AgentRuntime> = {
  "claude-code": new ClaudeCodeRuntime(),
  command: new CommandRuntime(),
};

export function runtimeFor(name: string): AgentRuntime {
  const r = RUNTIMES[name];
  if (!r) throw new Error(`unknown runtime ${name}`);
  return r;
}
