import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_MODELS, LIMIT_PAUSE_UTILIZATION } from "../config/defaults.js";
import { logger } from "../log.js";
import type { AgentRuntime, RunningAgent, RunSpec, RuntimeSignal } from "./agent-runtime.js";
import { agentEnv, huskiesVars } from "./agent-env.js";
import { liveAction, type ClaudeEvent } from "./claude-signals.js";
import { classifyRun } from "./run-outcome.js";
import { claudeSettings, scopeFileTools } from "../confinement/claude-settings.js";
import { confinementFor } from "../confinement/default.js";
import type { RunPolicy } from "../confinement/policy.js";
import { CHANNEL_ENV, channelMcpConfig, HUSKIES_MCP_TOOLS } from "./channel-config.js";

/** Stderr and plain stdout lines kept for classification. */
const TAIL_LINES = 200;

/** `claude` from the slot, `HUSKIES_CLAUDE_PATH`, PATH, or the npm package installed with huskies. */
export function findClaude(configured?: string): string {
  if (configured) return configured;
  if (process.env.HUSKIES_CLAUDE_PATH) return process.env.HUSKIES_CLAUDE_PATH;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "claude"))) return join(dir, "claude");
  }
  const bundled = fileURLToPath(new URL("../../../node_modules/.bin/claude", import.meta.url));
  return existsSync(bundled) ? bundled : "claude";
}

/** What a read-only run (the board's assistant) may use of a slot's `allowed_tools`: nothing that writes or runs commands. */
// No WebFetch: a run that reads text anyone can file must have no way to send the checkout elsewhere.
const READ_ONLY_TOOLS = new Set(["Read", "Glob", "Grep", "NotebookRead", "TodoWrite"]);

/** What a read-only run may never use, whatever the slot allows: writing, commands, the network, sub-agents. */
const WRITING_TOOLS = ["Bash", "Write", "Edit", "MultiEdit", "NotebookEdit", "WebFetch", "WebSearch", "Task"];

/**
 * A read-only run (the board's assistant) works in the project checkout itself. Deny rules win
 * over every allow and over the permission mode: no tool that writes, runs or fetches, and no
 * reading of `.huskies/` (node key, replica, tokens, other stories' worktrees) despite the
 * allowed `Read(//root/**)`.
 */
function readOnlySettings(settings: Record<string, unknown> | undefined, root: string): Record<string, unknown> {
  const permissions = (settings?.permissions as { deny?: string[] } | undefined) ?? {};
  const dir = resolve(root, ".huskies");
  const deny = [...(permissions.deny ?? []), ...WRITING_TOOLS, ...["Read", "Glob", "Grep"].map((t) => `${t}(/${dir}/**)`)];
  return { ...settings, permissions: { ...permissions, deny } };
}

/**
 * The command line of a run; the prompt is not on it (it goes to stdin). `policy` is the run's
 * confinement (undefined: unconfined), turned into claude's own `--settings` sandbox.
 */
export function claudeArgs(spec: RunSpec, policy: RunPolicy | undefined, env: Record<string, string> = {}): string[] {
  const s = spec.slot;
  const confined = (s.sandbox ?? "auto") !== "off";
  // The prompt file stays readable: agents may use $HUSKIES_PROMPT_FILE like command agents do.
  const readable = isAbsolute(spec.promptFile) ? [spec.promptFile] : [];
  const configDir = env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), ".claude");
  const confinedSettings = confined
    ? claudeSettings(spec.cwd, policy, {
        required: s.sandbox === "required",
        credentialFiles: [join(configDir, ".credentials.json")],
        configDir,
      })
    : undefined;
  const args = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--model",
    s.model ?? DEFAULT_MODELS["claude-code"],
    "--max-turns",
    String(s.max_turns),
    "--permission-mode",
    // acceptEdits would approve file edits without asking: never for a read-only run.
    spec.readOnly ? "default" : "acceptEdits",
  ];
  if (spec.resumeSessionId) args.push("--resume", spec.resumeSessionId);
  const settings = spec.readOnly ? readOnlySettings(confinedSettings, spec.projectRoot ?? spec.cwd) : confinedSettings;
  if (settings) args.push("--settings", JSON.stringify(settings));
  if (s.max_budget_usd !== undefined) args.push("--max-budget-usd", String(s.max_budget_usd));
  if (s.system_prompt) args.push("--append-system-prompt", s.system_prompt);
  // Only huskies' server: a `.mcp.json` in the checkout (the project's, or one the story wrote) is not loaded.
  if (spec.channel) args.push("--mcp-config", channelMcpConfig(spec.channel.hostPath, spec.channel.timeoutMs), "--strict-mcp-config");
  // Variadic flag last, so nothing after it is mistaken for a tool name.
  const allowed = spec.readOnly ? s.allowed_tools.filter((t) => READ_ONLY_TOOLS.has(t.replace(/\(.*$/, ""))) : s.allowed_tools;
  const tools = [...(confined ? scopeFileTools(allowed, spec.cwd, readable) : allowed), ...(spec.channel ? [HUSKIES_MCP_TOOLS] : [])];
  if (tools.length) args.push("--allowedTools", ...tools);
  return args;
}

/**
 * Claude Code in print mode, streaming JSON events; the prompt on stdin, never on the command
 * line. `--permission-mode acceptEdits` with an explicit `--allowedTools` list runs unattended as
 * root, where `--dangerously-skip-permissions` is refused. A usage limit stops the run at its
 * first sign (see `claude-signals.ts`); the outcome comes from `classifyRun`.
 */
export class ClaudeCodeRuntime implements AgentRuntime {
  readonly name = "claude-code";

  start(spec: RunSpec): RunningAgent {
    const events: ClaudeEvent[] = [];
    const stdout: string[] = [];
    const stderr: string[] = [];
    const limitPauseUtilization = spec.limitPauseUtilization ?? LIMIT_PAUSE_UTILIZATION;
    const signal = (s: RuntimeSignal) => {
      try {
        spec.onSignal?.(s);
      } catch (err) {
        logger("runtime").error({ story: spec.storyId, err: (err as Error).message, signal: s.kind }, "signal handler failed");
      }
    };
    const env = agentEnv({
      kind: "claude-code",
      slotEnv: spec.slot.env,
      extra: spec.env,
      huskies: huskiesVars(spec),
      fixed: { DISABLE_AUTOUPDATER: "1", ...(spec.channel ? CHANNEL_ENV : {}) },
    });
    // claude sandboxes its own tools: the policy becomes its --settings, never a bwrap around it.
    const run = confinementFor(spec).run({
      label: spec.slot.name,
      storyId: spec.storyId,
      cwd: spec.cwd,
      projectRoot: spec.projectRoot,
      mode: spec.slot.sandbox,
      ownBranch: spec.ownBranch,
      baseBranch: spec.baseBranch,
      channel: spec.channel,
      readOnly: spec.readOnly,
      readFiles: isAbsolute(spec.promptFile) ? [spec.promptFile] : [],
      selfSandboxed: true,
      command: findClaude(spec.slot.claude_path),
      args: (policy) => claudeArgs(spec, policy, env),
      env,
      input: spec.prompt,
      inactivityMs: spec.inactivityMs,
      onLine: (stream, line) => {
        if (stream === "stderr") {
          keep(stderr, line);
          return spec.onLog({ kind: "stderr", text: line });
        }
        const event = parseEvent(line);
        if (!event) {
          keep(stdout, line);
          return spec.onLog({ kind: "stdout", text: line });
        }
        if (matters(event)) events.push(event);
        spec.onLog({ kind: "event", event });
        const action = liveAction(event, { limitPauseUtilization, now: Date.now() });
        if (action?.signal) signal(action.signal);
        if (action?.stop)
          void run
            .stop(action.stop.reason, action.stop.kind)
            .catch((err: Error) => logger("runtime").error({ story: spec.storyId, err: err.message }, "stopping claude failed"));
      },
      finish: (raw) => {
        const c = classifyRun({ runtime: "claude-code", events, stdout, stderr, ...raw });
        return { ...c, ok: c.outcome === "done", exit: raw.exit, durationMs: raw.durationMs };
      },
    });
    return run;
  }
}

/** Events classification reads; ordinary assistant and tool messages are only logged. */
function matters(e: ClaudeEvent): boolean {
  return (
    e.type === "result" || e.type === "system" || e.type === "rate_limit_event" || (e.type === "assistant" && typeof e.error === "string")
  );
}

function keep(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > TAIL_LINES) lines.shift();
}

function parseEvent(line: string): ClaudeEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === "object" && typeof (v as { type?: unknown }).type === "string" ? (v as ClaudeEvent) : undefined;
  } catch {
    return undefined;
  }
}
