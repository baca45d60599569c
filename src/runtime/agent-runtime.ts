import type { AgentSlot } from "../config/agents-config.js";
import type { LogEntry } from "./story-log.js";

/** Everything a runtime needs to run one coding agent on one story. */
export interface RunSpec {
  storyId: string;
  slot: AgentSlot;
  /** The worktree (or merge workspace); the agent's working directory and its whole world. */
  cwd: string;
  prompt: string;
  storyMarkdown: string;
  /** File holding the prompt, for command runtimes (never substituted into a shell string). */
  promptFile: string;
  baseBranch: string;
  inactivityMs: number;
  env?: Record<string, string>;
  onLog(entry: Omit<LogEntry, "t">): void;
}

export interface RunResult {
  ok: boolean;
  exit: number | null;
  durationMs: number;
  turns?: number;
  costUsd?: number;
  /** Why it failed: an error result, a non-zero exit, inactivity, or a stop. */
  error?: string;
  /** The agent's final answer (claude's result text; a command's last stdout lines), e.g. a QA verdict. */
  finalText?: string;
}

export interface RunningAgent {
  pid: number;
  done: Promise<RunResult>;
  /** Kill the whole process tree and resolve once every process of it is gone. */
  stop(reason: string): Promise<void>;
}

/** How a coding agent is started. `claude-code` and `command` implement it; the loop sees only this. */
export interface AgentRuntime {
  readonly name: string;
  start(spec: RunSpec): RunningAgent;
}
