import type { RuntimeSignal, StopKind } from "./agent-runtime.js";
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
} from "./cli-outcome.js";

/**
 * Reading `codex exec --json` (codex-cli 0.171) for outcomes and node health. Pure. What it prints,
 * verified against `test/fixtures/codex-transcripts/`:
 * - `{"type":"thread.started","thread_id"}` first (the session to `codex exec resume`);
 * - `item.started` / `item.completed` with `item.type` `agent_message`, `command_execution`
 *   (`command`, `aggregated_output`, `exit_code`), `file_change`, `reasoning`, `error` (a warning);
 * - `turn.completed {usage: {input_tokens, cached_input_tokens, output_tokens, …}}` at the end;
 * - `{"type":"error","message"}` then `turn.failed {error: {message}}` and exit 1 on failure. A
 *   429 `usage_limit_reached` is not retried: "You’ve hit your usage limit. … try again at 8:14 PM."
 *   (or "Try again at Dec 7th, 2026 7:14 PM.", or "Try again later."), in the process's zone — the
 *   runtime sets `TZ=UTC` so the time is read in UTC. 401 and 5xx are retried five times
 *   ("Reconnecting... 1/5 (unexpected status 401 …)").
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * The reset time in codex's usage-limit message, read as UTC: "at 8:14 PM" is the next such time
 * after `now`; "at Dec 7th, 2026 7:14 PM" is that day. Undefined when the message names none.
 */
export function codexResetsAt(message: string, now: number): number | undefined {
  const m = /try again at\s+(?:([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\s+)?(\d{1,2}):(\d{2})\s*([AP]M)/i.exec(
    message,
  );
  if (!m) {
    const secs = /try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|seconds?|minutes?|m)\b/i.exec(message);
    if (!secs) return undefined;
    const n = Number(secs[1]);
    const unit = secs[2]!.toLowerCase();
    return now + (unit === "ms" ? n : unit.startsWith("m") ? n * 60_000 : n * 1000);
  }
  let hour = Number(m[4]) % 12;
  if (m[6]!.toUpperCase() === "PM") hour += 12;
  const minute = Number(m[5]);
  if (m[1]) {
    const month = MONTHS.indexOf(m[1].toLowerCase());
    if (month < 0) return undefined;
    return Date.UTC(Number(m[3]), month, Number(m[2]), hour, minute);
  }
  const d = new Date(now);
  let at = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), hour, minute);
  if (at <= now) at += 24 * 60 * 60 * 1000;
  return at;
}

function isUsageLimit(message: string): boolean {
  return /hit your usage limit|usage limit reached|out of credits|quota exceeded|insufficient_quota/i.test(message);
}

function isRateLimit(message: string): boolean {
  return /\b429\b|too many requests|rate limit/i.test(message);
}

/** What the runtime does about one event as it arrives. */
export interface CodexLiveAction {
  signal?: RuntimeSignal;
  stop?: { reason: string; kind: StopKind };
}

/** Decide on one live event: a usage limit or a credential failure at its first sign. */
export function codexLiveAction(event: CliEvent, now: number): CodexLiveAction | undefined {
  if (event.type === "thread.started" && str(event.thread_id)) return { signal: { kind: "session", sessionId: String(event.thread_id) } };
  if (event.type !== "error") return undefined;
  const message = str(event.message) ?? "";
  if (isUsageLimit(message)) {
    const reason = "usage limit reached";
    const resetsAt = codexResetsAt(message, now);
    return { signal: { kind: "node-failure", reason, resetsAt, accountTrouble: "limit" } };
  }
  // codex retries a 401 five times (seconds each): the first one is enough.
  const cred = /unexpected status 40[13]|missing environment variable/i.test(message) ? credentialFailure(message) : undefined;
  if (cred)
    return { stop: { reason: cred, kind: "node_failure" }, signal: { kind: "node-failure", reason: cred, accountTrouble: "credentials" } };
  return undefined;
}

/** Token usage reported so far (codex sums a run's usage in `turn.completed`). */
export function codexUsage(events: readonly CliEvent[]): { input: number; output: number; cached: number } | undefined {
  let found: { input: number; output: number; cached: number } | undefined;
  for (const e of events) {
    if (e.type !== "turn.completed") continue;
    const u = obj(e.usage) ?? {};
    const cached = num(u.cached_input_tokens) ?? 0;
    found = {
      input: (found?.input ?? 0) + Math.max(0, (num(u.input_tokens) ?? 0) - cached),
      output: (found?.output ?? 0) + (num(u.output_tokens) ?? 0),
      cached: (found?.cached ?? 0) + cached,
    };
  }
  return found;
}

/** Classify a finished codex run. */
export function classifyCodex(f: CliFacts): CliClassified {
  const sessionId = f.events.map((e) => (e.type === "thread.started" ? str(e.thread_id) : undefined)).find(Boolean);
  const c = classify(f);
  return withError({ ...c, sessionId: c.sessionId ?? sessionId, tokens: c.tokens ?? codexUsage(f.events) });
}

function classify(f: CliFacts): CliClassified {
  const e = earlyVerdict(f);
  if (e) return e;
  const turns = f.events.filter((x) => x.type === "turn.completed" || x.type === "turn.failed").length || undefined;
  const failed = [...f.events].reverse().find((x) => x.type === "turn.failed");
  const errors = f.events.filter((x) => x.type === "error").map((x) => str(x.message) ?? "");
  const finalText = [...f.events]
    .reverse()
    .map((x) => (x.type === "item.completed" && obj(x.item)?.type === "agent_message" ? str(obj(x.item)!.text) : undefined))
    .find(Boolean);
  if (f.exit === 0 && !failed && f.events.some((x) => x.type === "turn.completed") && !f.stopped)
    return { outcome: "done", reason: "done", finalText, turns };
  const message = str(obj(failed?.error)?.message) ?? errors.at(-1) ?? lastLine(f.stderr);
  const all = [message ?? "", ...errors].join("\n");
  if (message && isUsageLimit(message))
    return {
      outcome: "node_failure",
      reason: "usage limit reached",
      error: message,
      resetsAt: codexResetsAt(message, f.endedAt),
      accountTrouble: "limit",
    };
  const cred = credentialFailure(all);
  if (cred) return { outcome: "node_failure", reason: cred, error: message, accountTrouble: "credentials" };
  if (f.stopped) return { outcome: f.stopped.kind, reason: f.stopped.reason, turns };
  if (message && isRateLimit(message))
    return { outcome: "node_failure", reason: "rate limited (429)", error: message, accountTrouble: "limit" };
  if (/no rollout found for thread id|thread\/resume failed/i.test(all + (lastLine(f.stderr) ?? "")))
    return { outcome: "lost", reason: "the session to resume was not found", error: lastLine(f.stderr), resumeFailed: true };
  if (message && /high demand|overloaded|\b5\d\d\b|internal server error|stream disconnected/i.test(message))
    return { outcome: "node_failure", reason: "API unavailable", error: message };
  const reason =
    f.exit === null ? `killed by ${f.signal ?? "a signal"}` : failed ? "the agent reported an error" : `exited with code ${f.exit}`;
  return { outcome: "story_failure", reason, error: message ? `${reason}: ${message}` : reason, turns };
}
