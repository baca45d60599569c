/**
 * Liveness never compares two machines' clocks (docs/architecture.md, "Faults"). A node judges a
 * peer alive by when it last *received* that peer's heartbeat, on its own monotonic clock; the
 * peer's `lastSeen` (its own wall clock) only tells that a heartbeat is new (it grew), never how
 * old it is. A rendezvous 30 s ahead once saw every agent as 30 s stale: with
 * `node_alive_secs = 10`, no claim was granted and nothing said why. Pure.
 */

/** Clock differences above this are logged (once per peer) and shown by `huskies status`. */
export const CLOCK_SKEW_REPORT_MS = 5000;

/** How many recent receipts the clock-offset estimate keeps per peer. */
export const CLOCK_OFFSET_SAMPLES = 3;

/**
 * Whether a peer counts as alive: a heartbeat of it arrived within `aliveMs` of `now` (both on
 * this node's monotonic clock). Never heard since this process started: not alive.
 */
export function peerAlive(lastReceiptMonotonic: number | undefined, now: number, aliveMs: number): boolean {
  return lastReceiptMonotonic !== undefined && now - lastReceiptMonotonic <= aliveMs;
}

/**
 * Whether a claim's holder still holds it: heard from (or, when not heard since this process
 * started, first seen) within the claim timeout. First sight counts so that a restarted node
 * never takes work from a holder it simply has not heard from yet; the holder's next heartbeat
 * arrives long before the timeout. For the same reason silence is counted only from
 * `listeningSince`, when this process last woke from a stop (SIGSTOP, a paused VM): while it
 * was stopped it could hear nobody, and a holder that beat all along must not lose its claim.
 */
export function holderHeard(
  heardOrSeenMonotonic: number | undefined,
  now: number,
  claimTimeoutMs: number,
  listeningSince?: number,
): boolean {
  if (heardOrSeenMonotonic === undefined) return false;
  const from = listeningSince === undefined ? heardOrSeenMonotonic : Math.max(heardOrSeenMonotonic, listeningSince);
  return now - from <= claimTimeoutMs;
}

/**
 * How far a peer's clock is ahead of ours (negative: behind), from samples of
 * `its lastSeen − our wall clock` taken as each heartbeat arrived. Transport delay only ever
 * makes a sample smaller, so the largest recent sample is the best estimate.
 */
export function clockOffset(samples: readonly number[]): number | undefined {
  return samples.length ? Math.max(...samples) : undefined;
}

/**
 * Whether to report a peer's clock as off by more than `thresholdMs`. Ahead is certain from one
 * sample (delay cannot make a clock look ahead); behind needs two, since one late heartbeat (a
 * link that was down) looks the same.
 */
export function clockSkewed(samples: readonly number[], thresholdMs = CLOCK_SKEW_REPORT_MS): boolean {
  const off = clockOffset(samples);
  if (off === undefined) return false;
  return off > thresholdMs || (off < -thresholdMs && samples.length >= 2);
}
