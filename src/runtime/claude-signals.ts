import type { RuntimeSignal, StopKind } from "./agent-runtime.js";

/**
 * Reading Claude Code's stream-json events for node health (pure; shared by the live runtime and
 * the classifier). What claude 2.1 prints, verified against the captured transcripts in
 * `test/fixtures/claude-transcripts/`:
 * - `{"type":"system","subtype":"api_retry","attempt","retry_delay_ms","error_status":429,"error":"rate_limit"}`
 *   before each of its own retries (up to 10, for minutes);
 * - on subscription logins `{"type":"rate_limit_event","rate_limit_info":{status:"allowed"|"allowed_warning"|"rejected",
 *   resetsAt (epoch s), utilization?, isUsingOverage}}`.
 */
export type ClaudeEvent = Record<string, unknown>;

/** What the runtime does about one event as it arrives. */
export interface LiveAction {
  signal?: RuntimeSignal;
  /** Stop the run at once (kill the tree) with this outcome. */
  stop?: { reason: string; kind: StopKind };
}

/** 401/403 retries allowed before stopping: claude refreshes an OAuth token once on a 401. */
const AUTH_RETRIES_BEFORE_STOP = 2;

/** Epoch ms from claude's `resetsAt` (epoch seconds; tolerate ms). */
export function resetsAtMs(v: unknown): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) return undefined;
  return v < 1e12 ? v * 1000 : v;
}

/**
 * The server's `retry-after` as claude honoured it: an integral `retry_delay_ms` (claude's own
 * backoff is jittered, so fractional), counted from `at`.
 */
export function retryAfterResetsAt(event: ClaudeEvent, at: number): number | undefined {
  const d = event.retry_delay_ms;
  return typeof d === "number" && Number.isInteger(d) && d >= 1000 ? at + d : undefined;
}

export function rateLimitInfo(
  event: ClaudeEvent,
): { status?: string; resetsAt?: number; utilization?: number; overage: boolean; type?: string } | undefined {
  if (event.type !== "rate_limit_event") return undefined;
  const info = (event.rate_limit_info ?? {}) as Record<string, unknown>;
  return {
    status: typeof info.status === "string" ? info.status : undefined,
    resetsAt: resetsAtMs(info.resetsAt),
    utilization: typeof info.utilization === "number" ? info.utilization : undefined,
    overage: info.isUsingOverage === true,
    type: typeof info.rateLimitType === "string" ? info.rateLimitType : undefined,
  };
}

/** A subscription limit that stops work: `rejected`, unless claude carries on with paid overage. */
export function isRejected(event: ClaudeEvent): boolean {
  const info = rateLimitInfo(event);
  return info?.status === "rejected" && !info.overage;
}

export function isRetry(event: ClaudeEvent, ...statuses: number[]): boolean {
  return event.type === "system" && event.subtype === "api_retry" && statuses.includes(event.error_status as number);
}

/** Human name of a limit, from claude's `rateLimitType`. */
export function limitName(type: string | undefined): string {
  return type === "five_hour" ? "five-hour usage limit" : type?.startsWith("seven_day") ? "weekly usage limit" : "usage limit";
}

/**
 * Decide on one live event: a usage limit is acted on at its first sign (the first 429 retry, or
 * `rejected`) rather than left retrying for minutes; a near limit is only signalled.
 */
export function liveAction(event: ClaudeEvent, opts: { limitPauseUtilization: number; now: number }): LiveAction | undefined {
  if (event.type === "system" && event.subtype === "init" && typeof event.session_id === "string") {
    return { signal: { kind: "session", sessionId: event.session_id } };
  }
  if (isRetry(event, 429)) {
    const reason = "rate limited (429)";
    return {
      stop: { reason, kind: "node_failure" },
      signal: { kind: "node-failure", reason, resetsAt: retryAfterResetsAt(event, opts.now) },
    };
  }
  if (isRetry(event, 401, 403) && Number(event.attempt) >= AUTH_RETRIES_BEFORE_STOP) {
    const reason = `invalid credentials (${String(event.error_status)})`;
    return { stop: { reason, kind: "node_failure" }, signal: { kind: "node-failure", reason } };
  }
  const info = rateLimitInfo(event);
  if (!info) return undefined;
  if (isRejected(event)) {
    const reason = `${limitName(info.type)} reached`;
    return { stop: { reason, kind: "node_failure" }, signal: { kind: "node-failure", reason, resetsAt: info.resetsAt } };
  }
  if (info.status === "allowed_warning" && info.utilization !== undefined && info.utilization >= opts.limitPauseUtilization) {
    return { signal: { kind: "near-limit", utilization: info.utilization, resetsAt: info.resetsAt } };
  }
  return undefined;
}
