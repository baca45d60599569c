import type { Logger } from "pino";

/**
 * Coalesce bursts of triggers (document events arrive in floods) into one run of `fn` on the next
 * turn of the event loop. An error in `fn` is logged with `what` and the next trigger runs again:
 * a long-running process never dies of one bad pass.
 */
export function coalesce(fn: () => void, log: Logger, what: string): { schedule(): void; cancel(): void } {
  let pending: NodeJS.Immediate | undefined;
  return {
    schedule() {
      if (pending) return;
      pending = setImmediate(() => {
        pending = undefined;
        guarded(log, what, fn);
      });
    },
    cancel() {
      if (pending) clearImmediate(pending);
      pending = undefined;
    },
  };
}

/** Run `fn`, logging instead of throwing: for timers, event handlers and observers. */
export function guarded(log: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.error({ err, what }, "unexpected error; going on");
  }
}

/** `setInterval` whose callback is guarded and which does not keep the process alive. */
export function every(ms: number, log: Logger, what: string, fn: () => void): () => void {
  const t = setInterval(() => guarded(log, what, fn), ms);
  t.unref();
  return () => clearInterval(t);
}
