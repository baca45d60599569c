import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentRuntime, RunningAgent, RunResult, RunSpec } from "./agent-runtime.js";
import { agentEnv, basicResult, startSupervised } from "./supervised-process.js";
import { envFor } from "./command-runtime.js";

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

/**
 * Claude Code in print mode, streaming JSON events. `--permission-mode acceptEdits` with an
 * explicit `--allowedTools` list runs unattended as root, where `--dangerously-skip-permissions`
 * is refused.
 */
export class ClaudeCodeRuntime implements AgentRuntime {
  readonly name = "claude-code";

  start(spec: RunSpec): RunningAgent {
    const s = spec.slot;
    const args = ["-p", spec.prompt, "--output-format", "stream-json", "--verbose", "--model", s.model, "--max-turns", String(s.max_turns), "--permission-mode", "acceptEdits"];
    if (s.max_budget_usd !== undefined) args.push("--max-budget-usd", String(s.max_budget_usd));
    if (s.system_prompt) args.push("--append-system-prompt", s.system_prompt);
    // Variadic flag last, so nothing after it is mistaken for a tool name.
    if (s.allowed_tools.length) args.push("--allowedTools", ...s.allowed_tools);

    let final: Record<string, unknown> | undefined;
    return startSupervised(findClaude(s.claude_path), args, {
      cwd: spec.cwd,
      env: agentEnv({ DISABLE_AUTOUPDATER: "1", ...spec.env, ...envFor(spec) }),
      inactivityMs: spec.inactivityMs,
      onLine: (stream, line) => {
        if (stream === "stderr") return spec.onLog({ kind: "stderr", text: line });
        const event = parseEvent(line);
        if (!event) return spec.onLog({ kind: "stdout", text: line });
        if (event.type === "result") final = event;
        spec.onLog({ kind: "event", event });
      },
      finish: (raw) => resultFrom(basicResult(raw), final),
    });
  }
}

function parseEvent(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === "object" && typeof (v as { type?: unknown }).type === "string" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Turns and cost come from the final `result` event; an error result fails the run with its message. */
export function resultFrom(base: RunResult, final: Record<string, unknown> | undefined): RunResult {
  if (!final) return base.ok ? { ...base, ok: false, error: "claude ended without a result event" } : base;
  const turns = typeof final.num_turns === "number" ? final.num_turns : undefined;
  const costUsd = typeof final.total_cost_usd === "number" ? final.total_cost_usd : undefined;
  const isError = final.is_error === true || (typeof final.subtype === "string" && final.subtype !== "success");
  if (isError) {
    const message = typeof final.result === "string" && final.result ? final.result : String(final.subtype ?? "error");
    return { ...base, ok: false, turns, costUsd, error: base.error ?? `claude reported an error: ${message}` };
  }
  return { ...base, turns, costUsd, finalText: typeof final.result === "string" ? final.result : undefined };
}
