import type { RuntimeSignal } from "./agent-runtime.js";
import {
  credentialFailure,
  earlyVerdict,
  lastLine,
  num,
  obj,
  str,
  withError,
  type CliClassified,
  type CliEvent,
  type CliFacts,
  type Tokens,
} from "./cli-outcome.js";

/**
 * Reading `gemini -o stream-json` (gemini-cli 0.61) for outcomes and node health. Pure. What it
 * prints, verified against `test/fixtures/gemini-transcripts/`:
 * - `{"type":"init","session_id","model"}` first (the session to `--resume`);
 * - `message` (`role`, `content`, `delta`), `tool_use` (`tool_name`, `tool_id`, `parameters`),
 *   `tool_result` (`tool_id`, `status`, `output` or `error`);
 * - a final `result` with `status` `success` or `error` (`error: {type, message}`) and `stats`
 *   (`input_tokens`, `output_tokens`, `cached`, `tool_calls`, per-model counts).
 * A 429 whose retry delay is long ends the run at once: "[API Error: Quota exceeded … Suggested
 * retry after 3600s.] Please wait and try again later."; a rejected key: "[API Error: {…API key not
 * valid…}]"; no key at all: "When using Gemini API, you must specify the GEMINI_API_KEY
 * environment variable." on stderr before any event.
 */

/** `Suggested retry after 3600s` / `retry in 20s` → epoch ms from `at`. */
export function geminiResetsAt(message: string, at: number): number | undefined {
  const m = /(?:retry after|retry in|try again in)\s*(\d+(?:\.\d+)?)\s*(ms|s|seconds?|m|minutes?)\b/i.exec(message);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return at + Math.round(unit === "ms" ? n : unit.startsWith("m") ? n * 60_000 : n * 1000);
}

function isLimit(message: string): boolean {
  return /quota exceeded|resource_exhausted|\b429\b|rate limit|usage limit/i.test(message);
}

/** Decide on one live event: the session id, and an error event that names a limit or credentials. */
export function geminiLiveAction(event: CliEvent, now: number): { signal?: RuntimeSignal } | undefined {
  if (event.type === "init" && str(event.session_id)) return { signal: { kind: "session", sessionId: String(event.session_id) } };
  const message =
    event.type === "result" && event.status === "error"
      ? (str(obj(event.error)?.message) ?? "")
      : event.type === "error"
        ? (str(event.message) ?? "")
        : "";
  if (!message) return undefined;
  if (isLimit(message))
    return {
      signal: { kind: "node-failure", reason: "usage limit reached", resetsAt: geminiResetsAt(message, now), accountTrouble: "limit" },
    };
  const cred = credentialFailure(message);
  if (cred) return { signal: { kind: "node-failure", reason: cred, accountTrouble: "credentials" } };
  return undefined;
}

/** Tokens of the run from the final `result`'s stats. */
export function geminiUsage(events: readonly CliEvent[]): Tokens | undefined {
  const result = [...events].reverse().find((e) => e.type === "result");
  const s = obj(result?.stats);
  if (!s) return undefined;
  const cached = num(s.cached) ?? 0;
  return { input: Math.max(0, (num(s.input_tokens) ?? 0) - cached), output: num(s.output_tokens) ?? 0, cached };
}

/** Classify a finished gemini run. */
export function classifyGemini(f: CliFacts): CliClassified {
  const sessionId = f.events.map((e) => (e.type === "init" ? str(e.session_id) : undefined)).find(Boolean);
  const c = classify(f);
  return withError({ ...c, sessionId: c.sessionId ?? sessionId, tokens: c.tokens ?? geminiUsage(f.events) });
}

function classify(f: CliFacts): CliClassified {
  const e = earlyVerdict(f);
  if (e) return e;
  const result = [...f.events].reverse().find((x) => x.type === "result");
  const turns = f.events.filter((x) => x.type === "message" && x.role === "assistant" && x.delta !== true).length || undefined;
  const tools = num(obj(result?.stats)?.tool_calls);
  const finalText = lastAssistantText(f.events);
  if (result?.status === "success" && !f.stopped)
    return { outcome: "done", reason: "done", finalText, turns: tools !== undefined ? tools + 1 : turns };
  const message = str(obj(result?.error)?.message) ?? lastLine(f.stderr);
  const text = [message ?? "", ...f.stderr.slice(-20)].join("\n");
  if (message && isLimit(message))
    return {
      outcome: "node_failure",
      reason: "usage limit reached",
      error: message,
      resetsAt: geminiResetsAt(message, f.endedAt),
      accountTrouble: "limit",
    };
  const cred = credentialFailure(text);
  if (cred && !result?.status) return { outcome: "node_failure", reason: cred, error: message, accountTrouble: "credentials" };
  if (cred && message && credentialFailure(message))
    return { outcome: "node_failure", reason: cred, error: message, accountTrouble: "credentials" };
  if (f.stopped) return { outcome: f.stopped.kind, reason: f.stopped.reason };
  if (/error resuming session|invalid session identifier/i.test(text))
    return { outcome: "lost", reason: "the session to resume was not found", error: message, resumeFailed: true };
  if (message && /\b5\d\d\b|overloaded|unavailable|internal error/i.test(message) && !/max session turns/i.test(message))
    return { outcome: "node_failure", reason: "API unavailable", error: message };
  if (message && /max(imum)? session turns/i.test(message))
    return { outcome: "story_failure", reason: "max turns reached", error: message };
  const reason =
    f.exit === null ? `killed by ${f.signal ?? "a signal"}` : result ? "the agent reported an error" : `exited with code ${f.exit}`;
  return { outcome: "story_failure", reason, error: message ? `${reason}: ${message}` : reason };
}

function lastAssistantText(events: readonly CliEvent[]): string | undefined {
  // Streamed messages arrive as deltas; the final answer is the run of deltas after the last tool.
  let text = "";
  for (const e of events) {
    if (e.type === "tool_use" || e.type === "tool_result") text = "";
    else if (e.type === "message" && e.role === "assistant")
      text = e.delta === true ? text + (str(e.content) ?? "") : (str(e.content) ?? "");
  }
  return text.trim() || undefined;
}
