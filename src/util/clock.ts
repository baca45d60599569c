/**
 * Time and timers as one injectable value. The sync link, the sequencer, claims and presence take
 * a `Clock` (default: the real one) instead of calling the globals, so a deterministic simulation
 * (issue 25) can drive them with a virtual clock and a seeded scheduler.
 *
 * Two kinds of time, never mixed: `now()` is this machine's wall clock, only for values written
 * into the document or shown to people; `monotonic()` never jumps and is the only time any
 * duration, deadline or liveness judgement is measured on (docs/architecture.md, "Faults").
 */
export interface Clock {
  /** Wall-clock ms since the epoch (`Date.now()`). */
  now(): number;
  /** Monotonic ms, meaningful only within this process (`performance.now()`). */
  monotonic(): number;
  /** A one-shot timer. Real timers never keep the process alive (they are `unref`ed). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** Opaque: whatever the clock's timers return. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The real clock: `Date.now`, `performance.now`, and Node's timers, unref'd. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    if (handle) clearTimeout(handle as NodeJS.Timeout);
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval(handle) {
    if (handle) clearInterval(handle as NodeJS.Timeout);
  },
};
