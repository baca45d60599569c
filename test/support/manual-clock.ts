import type { Clock, TimerHandle } from "../../src/util/clock.js";

interface Pending {
  at: number;
  fn: () => void;
  every?: number;
  seq: number;
}

/**
 * A `Clock` that moves only when told: `advance(ms)` runs every timer due on the way, in time
 * order. Wall and monotonic time move together unless `skewWall` shifts the wall clock alone
 * (a machine whose clock is wrong, or jumps).
 */
export class ManualClock implements Clock {
  private mono = 0;
  private wallOffset: number;
  private seq = 0;
  private readonly timers = new Set<Pending>();

  constructor(wallStart = 1_700_000_000_000) {
    this.wallOffset = wallStart;
  }

  now(): number {
    return this.wallOffset + this.mono;
  }

  monotonic(): number {
    return this.mono;
  }

  skewWall(ms: number): void {
    this.wallOffset += ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: Pending = { at: this.mono + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.add(t);
    return t;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t: Pending = { at: this.mono + Math.max(1, ms), fn, every: Math.max(1, ms), seq: this.seq++ };
    this.timers.add(t);
    return t;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.timers.delete(handle as Pending);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.timers.delete(handle as Pending);
  }

  /** Move time forward by `ms`, running each timer at its due time. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const t of this.timers) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.mono = next.at;
      if (next.every) next.at += next.every;
      else this.timers.delete(next);
      next.fn();
    }
    this.mono = end;
  }
}
