/**
 * Budgets (issue 28), as pure rules: what a run cost, which day it counts on, and whether a cap
 * leaves room for one more story. No I/O: the spend ledger and the runtimes call these.
 */

export interface TokenCounts {
  input: number;
  output: number;
  cached: number;
}

/** USD per million tokens. */
export interface TokenPrice {
  input: number;
  output: number;
  cached_input?: number;
}

/** What `tokens` cost at `price` (cached input at its own price, else at the input price). */
export function tokenCost(tokens: TokenCounts, price: TokenPrice): number {
  const cached = price.cached_input ?? price.input;
  return (tokens.input * price.input + tokens.output * price.output + tokens.cached * cached) / 1_000_000;
}

/** The calendar day `at` falls on in `timeZone`, as `YYYY-MM-DD`: a daily cap turns over at its midnight. */
export function dayKey(at: number, timeZone: string): string {
  return dayFormat(timeZone).format(at);
}

/**
 * One formatter per zone: making one costs ~100 times formatting with it, and the work loop asks
 * for today's key on every pass (is the project's daily cap reached?).
 */
const dayFormats = new Map<string, Intl.DateTimeFormat>();
function dayFormat(timeZone: string): Intl.DateTimeFormat {
  let f = dayFormats.get(timeZone);
  if (!f) {
    // en-CA formats dates as YYYY-MM-DD.
    f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
    if (dayFormats.size > 100) dayFormats.clear();
    dayFormats.set(timeZone, f);
  }
  return f;
}

/** The first instant of the day after the one `at` falls on, in `timeZone` (when a daily cap lifts). */
export function nextDayStart(at: number, timeZone: string): number {
  const today = dayKey(at, timeZone);
  // Walk forward by the hour (zones shift by whole or half hours), then back to the first minute.
  let t = at;
  while (dayKey(t, timeZone) === today) t += 15 * 60_000;
  let lo = t - 15 * 60_000;
  while (t - lo > 1000) {
    const mid = Math.floor((lo + t) / 2);
    if (dayKey(mid, timeZone) === today) lo = mid;
    else t = mid;
  }
  return Math.ceil(t / 1000) * 1000;
}

export interface Cap {
  /** Who set it, for the reason: `project` or `account NAME`. */
  name: string;
  limitUsd: number;
  spentUsd: number;
}

/** The first cap already reached (no new story may start under it), or undefined. */
export function capReached(caps: readonly Cap[]): Cap | undefined {
  return caps.find((c) => c.spentUsd >= c.limitUsd);
}

/** The most a run may spend: the slot's own budget, lowered to what the caps leave. */
export function runBudget(slotBudget: number | undefined, caps: readonly Cap[]): number | undefined {
  const left = caps.map((c) => Math.max(0, c.limitUsd - c.spentUsd));
  const all = [...(slotBudget !== undefined ? [slotBudget] : []), ...left];
  return all.length ? Math.min(...all) : undefined;
}

/** The reason a person reads when a cap holds new stories back. */
export function capReason(cap: Cap): string {
  return `daily budget of ${cap.name} reached ($${cap.spentUsd.toFixed(2)} of $${cap.limitUsd.toFixed(2)} today)`;
}
