import {
  recordEnd,
  recordStart,
  startDelay,
  stepKey,
  storyDelay,
  type BreakerTimings,
  type StartRecord,
} from "../pipeline/start-breaker.js";

/**
 * Rule 2's breaker on one node: the same story's step starts at most once per
 * `restart_backoff_secs`, after failures in a row the gap doubles, and after a failed job the
 * story's next step of any kind waits too (start-breaker.ts decides). Records are kept per step
 * (`stage:id`) and per story (`id`).
 * `onDue` runs when a step held back may start, so the work loop passes again then.
 *
 * Gaps are durations: they are measured on the monotonic clock, never the wall clock, so a clock
 * stepped back an hour does not hold a story's next start on this node for that hour.
 */
export class StepStarts {
  private readonly records = new Map<string, StartRecord>();
  private timer: NodeJS.Timeout | undefined;
  private due = Infinity;

  constructor(
    private readonly timings: () => BreakerTimings,
    private readonly onDue: () => void,
    private readonly monotonic: () => number = () => performance.now(),
  ) {}

  /** How long before `id`'s step in `stage` may start on this node (0: now). */
  delay(id: string, stage: string, now = this.monotonic()): number {
    const t = this.timings();
    return Math.max(startDelay(this.records.get(stepKey(id, stage)), now, t), storyDelay(this.records.get(id), now, t));
  }

  /** Whether the step must wait; if so, a pass is due when it may start. */
  holds(id: string, stage: string, now = this.monotonic()): boolean {
    const wait = this.delay(id, stage, now);
    if (wait <= 0) return false;
    if (now + wait < this.due) {
      clearTimeout(this.timer);
      this.due = now + wait;
      this.timer = setTimeout(() => {
        this.due = Infinity;
        this.timer = undefined;
        this.onDue();
      }, wait);
      this.timer.unref();
    }
    return true;
  }

  started(id: string, stage: string, now = this.monotonic()): void {
    for (const key of [stepKey(id, stage), id]) this.records.set(key, recordStart(this.records.get(key), now));
    if (this.records.size > 10_000) this.forget(now);
  }

  ended(id: string, stage: string, failed: boolean): void {
    for (const key of [stepKey(id, stage), id]) {
      const rec = this.records.get(key);
      if (rec) this.records.set(key, recordEnd(rec, failed));
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Records older than the longest gap hold nothing back any more. */
  private forget(now: number): void {
    const horizon = now - this.timings().maxMs;
    for (const [k, r] of this.records) if (r.lastStart < horizon) this.records.delete(k);
  }
}
