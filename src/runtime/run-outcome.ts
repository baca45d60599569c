import { NODE_FAILURE_EXIT, type RunOutcome, type StopKind } from "./agent-runtime.js";
import { isRejected, isRetry, limitName, rateLimitInfo, retryAfterResetsAt, type ClaudeEvent } from "./claude-signals.js";

/** Everything observed about a finished run (no I/O: the runtime collects it, tests load fixtures). */
export interface RunFacts {
  /** `claude-code` reads `events`; any other runtime is judged by exit code and output. */
  runtime: string;
  /** Parsed JSON events from stdout, in order (claude's stream-json). */
  events: readonly ClaudeEvent[];
  /** Other stdout lines, and stderr lines (tails are enough). */
  stdout: readonly string[];
  stderr: readonly string[];
  exit: number | null;
  signal?: string;
  /** The process could not be started (missing binary, not executable). */
  startError?: string;
  /** The first stop of the run: by the caller (`lost`, …) or the runtime (inactivity, limits). */
  stopped?: { reason: string; kind: StopKind };
  /** The kernel's OOM killer ended the run (its memory cgroup counted the kill). */
  oomKilled?: boolean;
  /** When the run ended (epoch ms); `retry-after` is counted from here. */
  endedAt: number;
}

export interface Classified {
  outcome: RunOutcome;
  reason: string;
  error?: string;
  resetsAt?: number;
  sessionId?: string;
  finalText?: string;
  turns?: number;
  costUsd?: number;
  resumeFailed?: boolean;
  /** Killed for lack of memory: outcome `lost`, the node's trouble (the session is resumed). */
  oomKilled?: boolean;
}

/** The final answer of a command agent: the tail of what it printed. */
const FINAL_TEXT_LINES = 40;

/**
 * Classify a finished run. Only `story_failure` is the story's fault; `node_failure` means this
 * node cannot work now (credentials, limits, overload, no runtime binary); `lost` means huskies
 * stopped it. `error` is the runtime's own message verbatim where it printed one.
 */
export function classifyRun(f: RunFacts): Classified {
  const session = sessionOf(f.events);
  let c = f.runtime === "claude-code" ? classifyClaude(f) : classifyCommand(f);
  // Out of memory is the machine's state, not the story's verdict: a plain kill -9 (no OOM kill
  // counted) stays a story failure below.
  if (f.oomKilled && c.outcome === "story_failure") {
    const reason = "killed by the kernel's OOM killer (out of memory)";
    c = { outcome: "lost", reason, error: reason, oomKilled: true, turns: c.turns, costUsd: c.costUsd, sessionId: c.sessionId };
  }
  return { ...c, sessionId: c.sessionId ?? session, ...(c.outcome !== "done" && !c.error ? { error: c.reason } : {}) };
}

function early(f: RunFacts): Classified | undefined {
  if (f.stopped?.kind === "lost") return { outcome: "lost", reason: f.stopped.reason };
  if (f.startError) return { outcome: "node_failure", reason: "the runtime could not be started", error: f.startError };
  return undefined;
}

function classifyCommand(f: RunFacts): Classified {
  const e = early(f);
  if (e) return e;
  const lastErr = lastLine(f.stderr);
  if (f.stopped) return { outcome: f.stopped.kind, reason: f.stopped.reason };
  if (f.exit === 0) return { outcome: "done", reason: "done", finalText: f.stdout.slice(-FINAL_TEXT_LINES).join("\n") || undefined };
  if (f.exit === NODE_FAILURE_EXIT)
    return { outcome: "node_failure", reason: `the agent cannot work on this node now (exit ${NODE_FAILURE_EXIT})`, error: lastErr };
  const reason = f.exit === null ? `killed by ${f.signal ?? "a signal"}` : `exited with code ${f.exit}`;
  return { outcome: "story_failure", reason, error: lastErr ? `${reason}: ${lastErr}` : reason };
}

function classifyClaude(f: RunFacts): Classified {
  const e = early(f);
  if (e) return e;
  const result = [...f.events].reverse().find((ev) => ev.type === "result");
  const counts = result ? { turns: num(result.num_turns), costUsd: num(result.total_cost_usd) } : {};
  const limit = limitEvidence(f);

  if (result && result.is_error !== true && result.subtype === "success") {
    return { outcome: "done", reason: "done", finalText: str(result.result), ...counts };
  }
  if (f.stopped?.kind === "node_failure")
    return { outcome: "node_failure", reason: f.stopped.reason, resetsAt: limit?.resetsAt, ...counts };
  if (result) return { ...classifyErrorResult(f, result, limit), ...counts };
  if (limit) return { outcome: "node_failure", reason: limit.reason, resetsAt: limit.resetsAt };
  if (f.stopped) return { outcome: f.stopped.kind, reason: f.stopped.reason };
  const auth = authFailure(f.stderr.join("\n"));
  if (auth) return { outcome: "node_failure", reason: auth, error: lastLine(f.stderr) };
  const reason =
    f.exit === null
      ? `killed by ${f.signal ?? "a signal"}`
      : f.exit === 0
        ? "claude ended without a result event"
        : `exited with code ${f.exit}`;
  const lastErr = lastLine(f.stderr);
  return { outcome: "story_failure", reason, error: lastErr ? `${reason}: ${lastErr}` : reason };
}

/** An error `result`: the API's status and claude's own message decide whose fault it is. */
function classifyErrorResult(f: RunFacts, result: ClaudeEvent, limit: Limit | undefined): Classified {
  const errors = Array.isArray(result.errors) ? result.errors.filter((x): x is string => typeof x === "string") : [];
  const message = str(result.result) ?? (errors.length ? errors.join("; ") : undefined) ?? String(result.subtype ?? "error");
  const status = num(result.api_error_status);
  const kind = assistantError(f.events);
  if (status === 429 || kind === "rate_limit" || kind === "billing_error" || limit) {
    return {
      outcome: "node_failure",
      reason: limit?.reason ?? (kind === "billing_error" ? "billing error" : "rate limited (429)"),
      error: message,
      resetsAt: limit?.resetsAt,
    };
  }
  const auth = authFailure(message);
  if (status === 401 || status === 403 || kind === "authentication_failed" || auth) {
    return { outcome: "node_failure", reason: auth ?? `invalid credentials (${status ?? "authentication failed"})`, error: message };
  }
  if (/no conversation found with session id|--resume requires a valid session/i.test(message)) {
    return { outcome: "lost", reason: "the session to resume was not found", error: message, resumeFailed: true };
  }
  if (/sandbox required but unavailable/i.test(message))
    return { outcome: "node_failure", reason: "the sandbox cannot start on this node", error: message };
  if (status !== undefined && status >= 500) {
    return { outcome: "node_failure", reason: status === 529 ? "API overloaded (529)" : `API server error (${status})`, error: message };
  }
  if (result.subtype === "error_max_turns") return { outcome: "story_failure", reason: "max turns reached", error: message };
  if (result.subtype === "error_max_budget_usd") return { outcome: "story_failure", reason: "budget exhausted", error: message };
  return { outcome: "story_failure", reason: "the agent reported an error", error: message };
}

interface Limit {
  reason: string;
  resetsAt?: number;
}

/** A usage or rate limit seen in the events (the latest), with its reset time when known. */
function limitEvidence(f: RunFacts): Limit | undefined {
  let found: Limit | undefined;
  for (const ev of f.events) {
    if (isRejected(ev)) {
      const info = rateLimitInfo(ev)!;
      found = { reason: `${limitName(info.type)} reached`, resetsAt: info.resetsAt };
    } else if (isRetry(ev, 429)) {
      found = { reason: "rate limited (429)", resetsAt: retryAfterResetsAt(ev, f.endedAt) ?? found?.resetsAt };
    }
  }
  return found;
}

/** Claude's synthetic assistant message for an API failure carries `error` (rate_limit, authentication_failed, …). */
function assistantError(events: readonly ClaudeEvent[]): string | undefined {
  const ev = [...events].reverse().find((e) => e.type === "assistant" && typeof e.error === "string");
  return ev?.error as string | undefined;
}

function authFailure(text: string): string | undefined {
  if (/not logged in|please run \/login/i.test(text)) return "not logged in";
  if (/invalid api key|oauth token (has expired|revoked)|authentication_error/i.test(text)) return "invalid credentials";
  return undefined;
}

function sessionOf(events: readonly ClaudeEvent[]): string | undefined {
  for (const ev of events) if (typeof ev.session_id === "string" && ev.session_id) return ev.session_id;
  return undefined;
}

function lastLine(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.trim()) return lines[i]!.trim();
  return undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}
