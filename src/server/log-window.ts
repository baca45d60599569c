import { MAX_LOG_LINES, MAX_LOG_WAIT_MS } from "../config/defaults.js";
import type { StoryLogs } from "../runtime/story-log.js";

export interface LogWindowOptions {
  /** Without `since`: the last `tail` lines. With it: at most `tail` lines from there. */
  tail?: number;
  /** A line offset (0-based) from an earlier answer's `next`. */
  since?: number;
  /** With `since` at the end of the log: wait this long (bounded) for the next lines. */
  waitMs?: number;
}

/** A slice of a story log: raw JSON lines `from` … `next - 1` of `total`. */
export interface LogWindow {
  from: number;
  next: number;
  total: number;
  lines: string[];
}

const linesOf = (text: string | undefined) => (text ?? "").split("\n").filter(Boolean);

/**
 * A page of a story's log, from wherever it is held (this node, or the holder over the log
 * relay). A client polls with `since = next` and a `waitMs`: the answer comes as soon as a line
 * arrives, or empty after the wait, so a model following a run spends one call per batch of
 * output rather than one per second.
 */
export async function logWindow(logs: StoryLogs, id: string, o: LogWindowOptions = {}): Promise<LogWindow> {
  const tail = Math.min(Math.max(1, o.tail ?? 200), MAX_LOG_LINES);
  let lines = linesOf(await logs.read(id));
  const waitMs = Math.min(Math.max(0, o.waitMs ?? 0), MAX_LOG_WAIT_MS);
  if (o.since !== undefined && lines.length <= o.since && waitMs > 0) {
    if (await moreLines(logs, id, o.since, waitMs)) lines = linesOf(await logs.read(id));
  }
  const from = o.since === undefined ? Math.max(0, lines.length - tail) : Math.min(o.since, lines.length);
  const page = lines.slice(from, from + tail);
  return { from, next: from + page.length, total: lines.length, lines: page };
}

/** Resolves true once the log holds more than `count` lines, false after `waitMs`. */
function moreLines(logs: StoryLogs, id: string, count: number, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    let done = false;
    let stop: () => void = () => undefined;
    const finish = (more: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // `stream` may call back before it returns its stop function: stop on the next turn.
      queueMicrotask(() => stop());
      resolve(more);
    };
    const timer = setTimeout(() => finish(false), waitMs);
    stop = logs.stream(
      id,
      () => {
        seen += 1;
        if (seen > count) finish(true);
      },
      () => finish(false),
    );
  });
}
