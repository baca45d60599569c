/**
 * The environment of every process huskies runs on a story's behalf (coders, QA, mergemasters,
 * gates), built in one place from an allow-list: whatever is not named here stays with huskies.
 * In particular HUSKIES_TOKEN, HUSKIES_ADMIN_TOKEN and every other HUSKIES_* variable of the node
 * never reach an agent (the config refuses them in a slot's `env`, too).
 */

/** Names passed to every agent and gate, each for a reason. */
const BASE_NAMES = [
  "PATH", // find git, node, compilers
  "HOME", // tools keep their config and caches there (git, npm, claude's default config dir)
  "USER", // some tools and test suites read the user name
  "LOGNAME", // the POSIX spelling of USER
  "SHELL", // agents that spawn "your shell" (claude's Bash tool) use it
  "LANG", // locale: UTF-8 output instead of mangled text
  "TERM", // terminal capabilities for tools that colour or page output
  "TZ", // timestamps in the user's zone (commit dates, test fixtures)
  "TMPDIR", // where temporary files belong on this machine
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY", // reach the network the way this machine must
  "http_proxy",
  "https_proxy",
  "no_proxy", // (many tools read only the lowercase spelling)
  "NODE_EXTRA_CA_CERTS", // a corporate CA, so node-based agents (claude) can reach the API
];

/** Prefixes passed to every agent and gate. */
const BASE_PREFIXES = [
  "LC_", // the locale's parts (LC_ALL, LC_CTYPE, …)
  "GIT_AUTHOR_",
  "GIT_COMMITTER_", // who the agent's commits are by
];

/** Credentials and settings of one runtime only: an API key reaches the program that needs it. */
const RUNTIME_PREFIXES: Record<string, string[]> = {
  "claude-code": ["ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_"],
  codex: ["OPENAI_", "CODEX_"],
  gemini: ["GEMINI_", "GOOGLE_GEMINI_", "GOOGLE_GENAI_"],
  command: [],
  gate: [],
};
const RUNTIME_NAMES: Record<string, string[]> = {
  "claude-code": ["CLAUDE_CONFIG_DIR"],
  codex: [],
  gemini: ["GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"],
  command: [],
  gate: ["CI"],
};

export type EnvKind = "claude-code" | "codex" | "gemini" | "command" | "gate";

/** Whether `name` may pass from the node's environment to a process of this kind. */
export function allowedName(name: string, kind: EnvKind, slotEnv: readonly string[] = []): boolean {
  if (name.startsWith("HUSKIES_")) return false;
  if (BASE_NAMES.includes(name) || BASE_PREFIXES.some((p) => name.startsWith(p))) return true;
  if ((RUNTIME_NAMES[kind] ?? []).includes(name) || (RUNTIME_PREFIXES[kind] ?? []).some((p) => name.startsWith(p))) return true;
  return slotEnv.includes(name);
}

export interface AgentEnvOptions {
  kind: EnvKind;
  /** The slot's `env = [...]`: extra names to pass through. */
  slotEnv?: readonly string[];
  /** The node's environment (default `process.env`). */
  from?: NodeJS.ProcessEnv;
  /** Values the caller sets (a test's `ANTHROPIC_BASE_URL`); filtered like the node's own. */
  extra?: Record<string, string>;
  /** huskies' own story variables (`HUSKIES_STORY_ID`, …): set last, never filtered. */
  huskies?: Record<string, string>;
  /** Values the runtime itself sets (`DISABLE_AUTOUPDATER=1`). */
  fixed?: Record<string, string>;
}

export function agentEnv(opts: AgentEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of [opts.from ?? process.env, opts.extra ?? {}]) {
    for (const [name, value] of Object.entries(source)) {
      if (value !== undefined && allowedName(name, opts.kind, opts.slotEnv)) env[name] = value;
    }
  }
  return { ...env, ...opts.fixed, ...opts.huskies };
}

/** The story variables every agent gets. */
export function huskiesVars(spec: {
  storyId: string;
  cwd: string;
  baseBranch: string;
  promptFile: string;
  slot: { name: string };
  channel?: { sandboxPath: string };
}): Record<string, string> {
  return {
    HUSKIES_STORY_ID: spec.storyId,
    HUSKIES_WORKTREE: spec.cwd,
    HUSKIES_BASE_BRANCH: spec.baseBranch,
    HUSKIES_PROMPT_FILE: spec.promptFile,
    HUSKIES_SLOT: spec.slot.name,
    // The story's MCP channel (newline-delimited JSON-RPC on a unix socket), for runtimes without an MCP config.
    ...(spec.channel ? { HUSKIES_MCP_SOCKET: spec.channel.sandboxPath } : {}),
  };
}

/** A gate's environment: the base list and `CI=true` (tools switch to non-interactive output). */
export function gateEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return agentEnv({ kind: "gate", from, fixed: { CI: "true" } });
}
