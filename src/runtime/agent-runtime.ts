import type { AgentSlot } from "../config/agents-config.js";
import type { Confinement } from "../confinement/confine.js";
import type { Channel } from "../confinement/policy.js";
import type { LogEntry } from "./story-log.js";

/**
 * How a run ended, for the loop's policy: only `story_failure` counts toward `max_retries`;
 * `node_failure` pauses the node and gives the claim back; `lost` changes nothing about the story.
 */
export type RunOutcome = "done" | "story_failure" | "node_failure" | "lost";

/**
 * Why the caller stops a run. `lost`: huskies took the work away (lost claim, shutdown), so the
 * outcome is `lost` whatever the agent printed; the other kinds name the outcome to record.
 */
export type StopKind = "lost" | "story_failure" | "node_failure";

/**
 * The exit code by which a `command` agent says "this node cannot work now, try elsewhere"
 * (EX_TEMPFAIL from sysexits.h): not logged in, out of quota, rate limited. Outcome `node_failure`.
 */
export const NODE_FAILURE_EXIT = 75;

/** Live node-health signals from a running agent, before its result is known. */
export type RuntimeSignal =
  /** The runtime's session id (claude: from the init event), for `lastRun.sessionId` and resume. */
  | { kind: "session"; sessionId: string }
  /** A usage limit is close (`allowed_warning` at or above `limitPauseUtilization`): take no new work. */
  | { kind: "near-limit"; utilization: number; resetsAt?: number }
  /**
   * The runtime saw a node failure (usage or rate limit, rejected credentials) and is stopping the
   * run at once; its outcome will be `node_failure`. Pause the node now, before `done` resolves.
   */
  | { kind: "node-failure"; reason: string; resetsAt?: number; accountTrouble?: "limit" | "credentials" }
  /** Spend of the run so far (codex, gemini: from token counts and the slot's price), for budgets. */
  | { kind: "spend"; costUsd: number };

/** Everything a runtime needs to run one coding agent on one story. */
export interface RunSpec {
  storyId: string;
  slot: AgentSlot;
  /** The worktree (or merge workspace); the agent's working directory and its whole world. */
  cwd: string;
  /**
   * The project root holding `.huskies/`. Confinement denies reads of `.huskies/` (keys, replica,
   * other stories' worktrees) and allows git writes in its `.git`. Default: derived from `cwd`
   * when it is `.huskies/worktrees/<id>` or `.huskies/merge_workspace`.
   */
  projectRoot?: string;
  /** The node's confinement: every runtime starts its process through `confinement.run`. */
  confinement?: Confinement;
  /** The branch the run may move (`feature/story-<id>`); unset in the merge workspace. */
  ownBranch?: string;
  /**
   * The story's channel back to huskies: a unix socket answering MCP for this story only
   * (`tick_criterion`, `report_progress`, `ask_human`), mounted into the sandbox. claude-code gets
   * it as an MCP server (`--mcp-config`); other runtimes as `$HUSKIES_MCP_SOCKET`. `timeoutMs`
   * bounds one tool call (claude's per-server `timeout`).
   */
  channel?: Channel & { timeoutMs?: number };
  /** The prompt: on stdin for claude-code; for `command` agents only through `promptFile`. */
  prompt: string;
  storyMarkdown: string;
  /** File holding the prompt, for command runtimes (never substituted into a command line). */
  promptFile: string;
  baseBranch: string;
  inactivityMs: number;
  /**
   * Continue this earlier session (claude-code: `--resume ID`) instead of starting afresh; the
   * caller then passes a short "continue" prompt. Runtimes without sessions ignore it.
   */
  resumeSessionId?: string;
  /**
   * Stop the run once it has spent more than this (USD) and report it `budget`: the slot's
   * `max_budget_usd`, lowered to what is left of a daily cap. claude gets `--max-budget-usd`.
   */
  maxBudgetUsd?: number;
  /** `allowed_warning` at or above this utilization (0..1) signals `near-limit`. Default 0.95. */
  limitPauseUtilization?: number;
  /** Read-only on `cwd` (the board's assistant): no tool that writes files or runs commands. */
  readOnly?: boolean;
  /** Extra environment; still filtered by the allow-list of `agent-env.ts` (use the slot's `env`). */
  env?: Record<string, string>;
  onLog(entry: Omit<LogEntry, "t">): void;
  /** Live node-health signals; never throws into the runtime (errors are logged). */
  onSignal?(signal: RuntimeSignal): void;
}

export interface RunResult {
  /** `outcome === "done"`. */
  ok: boolean;
  outcome: RunOutcome;
  /** Short and human: "done", "not logged in", "usage limit reached", "max turns reached", … */
  reason: string;
  exit: number | null;
  durationMs: number;
  turns?: number;
  costUsd?: number;
  /**
   * Set whenever the run did not succeed: the runtime's own message verbatim where there is one
   * ("Not logged in · Please run /login", "API Error: Request rejected (429) · …"), else `reason`.
   */
  error?: string;
  /** Tokens used, where the runtime counts them (codex, gemini). */
  tokens?: { input: number; output: number; cached: number };
  /**
   * A node failure that is the account's (a usage or rate limit, rejected or missing credentials):
   * it pauses the account's slots on every node, not only this one.
   */
  accountTrouble?: "limit" | "credentials";
  /** Stopped because the run passed its budget (`max_budget_usd`): a story failure of kind `budget`. */
  budget?: boolean;
  /** When a usage limit resets (epoch ms), if the runtime said so. */
  resetsAt?: number;
  /** The runtime's session id, to record on `lastRun` and to resume with. */
  sessionId?: string;
  /** The agent's final answer (claude: the `result` text), e.g. QA's verdict. */
  finalText?: string;
  /**
   * `resumeSessionId` named a session this node no longer has: nothing ran (outcome `lost`).
   * Start again without it, with the full prompt.
   */
  resumeFailed?: boolean;
  /** The kernel's OOM killer ended the run (outcome `lost`): the node's trouble, the session is resumed. */
  oomKilled?: boolean;
}

export interface RunningAgent {
  pid: number;
  done: Promise<RunResult>;
  /**
   * Kill the whole process tree and resolve once every process of it is gone. `kind` (default
   * `lost`) decides the outcome; the first stop wins.
   */
  stop(reason: string, kind?: StopKind): Promise<void>;
}

/** How a coding agent is started. `claude-code`, `codex`, `gemini` and `command` implement it; the loop sees only this. */
export interface AgentRuntime {
  readonly name: string;
  start(spec: RunSpec): RunningAgent;
}
