import type { Clock, TimerHandle } from "../../src/util/clock.js";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

/**
 * Simulated time for the deterministic simulation (issue 25): one queue of timers for every node
 * of the simulated cluster, run in time order (ties in the order they were set), so a seed fixes
 * the whole history. `clockFor` gives each node the `Clock` the real code takes, with its own
 * wall-clock offset (a skewed machine) over the shared monotonic time.
 */
export class Scheduler {
  private queue: Timer[] = [];
  private seq = 0;
  /** Simulated monotonic ms since the start. */
  time = 0;
  /** Wall-clock ms at time 0 (any fixed value: the simulation never reads the real clock). */
  readonly epoch = 1_800_000_000_000;

  at(ms: number, fn: () => void, every?: number): Timer {
    const t: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, every, cancelled: false };
    // Sorted insert from the back: most timers are set for the near future.
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]!.at > t.at || (this.queue[i - 1]!.at === t.at && this.queue[i - 1]!.seq > t.seq))) i--;
    this.queue.splice(i, 0, t);
    return t;
  }

  cancel(t: Timer | undefined): void {
    if (t) t.cancelled = true;
  }

  /** Run timers until simulated time `until` (ms); returns how many ran. */
  runUntil(until: number): number {
    let ran = 0;
    while (this.queue.length && this.queue[0]!.at <= until) {
      const t = this.queue.shift()!;
      if (t.cancelled) continue;
      this.time = t.at;
      if (t.every !== undefined) {
        const again = this.at(t.every, t.fn, t.every);
        // The handle the caller holds must cancel the repeat too.
        Object.assign(t, { next: again });
      }
      t.fn();
      ran += 1;
    }
    this.time = until;
    return ran;
  }

  clockFor(offsetMs: () => number): Clock {
    const cancel = (h: TimerHandle | undefined) => {
      let t = h as (Timer & { next?: Timer }) | undefined;
      while (t) {
        t.cancelled = true;
        t = t.next;
      }
    };
    return {
      now: () => this.epoch + this.time + offsetMs(),
      monotonic: () => this.time,
      setTimeout: (fn, ms) => this.at(ms, fn),
      clearTimeout: cancel,
      setInterval: (fn, ms) => this.at(ms, fn, ms),
      clearInterval: cancel,
    };
  }
}
