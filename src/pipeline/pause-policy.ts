/**
 * When a paused node resumes (issue 13). Pure: values in, a time out.
 *
 * A runtime that names its reset time (a usage limit's `resetsAt`) is believed; otherwise the
 * wait starts at `limit_backoff_secs` and doubles with every node failure in a row, capped at
 * `limit_backoff_max_secs`, so a logged-out node does not hammer the API or churn stories.
 */
export interface PauseTimings {
  backoffMs: number;
  backoffMaxMs: number;
}

export function resumeAt(now: number, failuresInARow: number, t: PauseTimings, resetsAt?: number): number {
  if (resetsAt !== undefined && Number.isFinite(resetsAt) && resetsAt > now) return resetsAt;
  const wait = Math.min(t.backoffMaxMs, t.backoffMs * 2 ** Math.max(0, failuresInARow - 1));
  return now + wait;
}
