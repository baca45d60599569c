import { BACKOFF_INITIAL_MS, BACKOFF_MAX_MS } from "../config/defaults.js";

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a fleet of
 * agents that lost the same server does not come back in lockstep.
 */
export class Backoff {
  failures = 0;
  constructor(
    private readonly initialMs = BACKOFF_INITIAL_MS,
    private readonly maxMs = BACKOFF_MAX_MS,
    private readonly random = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.failures);
    this.failures += 1;
    return Math.round(base / 2 + (base / 2) * this.random());
  }

  reset(): void {
    this.failures = 0;
  }
}
