import { EventEmitter } from "node:events";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assertItemId } from "../pipeline/item-id.js";

import { logger } from "../log.js";
import type { LogEntry } from "./log-entry.js";

export type { LogEntry };

/** Logs held by other nodes, asked for by node id over their sync links (never a URL from the document). */
export interface RemoteLogs {
  fetch(id: string): Promise<string | undefined>;
  /** Every line of the holder's log (what exists, then new ones); undefined when no holder is linked. */
  follow(id: string, onLine: (line: string) => void, onEnd: () => void): (() => void) | undefined;
}

/**
 * Per-story logs as JSON lines in `.huskies/logs/<id>.log` on the node that ran the work.
 * Another node's log comes through `remote` (the log relay over the sync links).
 */
export class StoryLogs {
  private readonly bus = new EventEmitter();

  constructor(
    readonly dir: string,
    private readonly remote?: RemoteLogs,
  ) {
    mkdirSync(dir, { recursive: true });
    this.bus.setMaxListeners(0);
  }

  file(id: string): string {
    assertItemId(id);
    return join(this.dir, `${id}.log`);
  }

  /** Where a run's prompt is written (beside its log), for runtimes that read it from a file. */
  promptFile(id: string): string {
    assertItemId(id);
    return join(this.dir, `${id}.prompt.md`);
  }

  /**
   * Append one line. A write that fails (a full disk) is reported, at most once a minute, and
   * never thrown: an agent printing thousands of lines must not turn one full disk into thousands
   * of errors, and the step itself meets the full disk where it matters (its own files).
   */
  append(id: string, entry: Omit<LogEntry, "t">): void {
    const line = JSON.stringify({ t: Date.now(), ...entry });
    const file = this.file(id);
    try {
      appendFileSync(file, line + "\n");
      if (this.failing) {
        this.failing = false;
        logger("runtime").info({ dir: this.dir }, "story logs writable again");
      }
    } catch (err) {
      const now = Date.now();
      if (!this.failing || now - this.reportedAt >= 60_000) {
        this.reportedAt = now;
        logger("runtime").error({ file, err: (err as Error).message }, "cannot write story logs; lines are dropped until it works again");
      }
      this.failing = true;
    }
    this.bus.emit(id, line);
  }

  private failing = false;
  private reportedAt = 0;

  /** The whole log: this node's copy, else (unless `local`) the holder's. */
  async read(id: string, opts: { local?: boolean } = {}): Promise<string | undefined> {
    const file = this.file(id);
    if (existsSync(file)) return readFileSync(file, "utf8");
    return opts.local ? undefined : this.remote?.fetch(id);
  }

  /** New lines for `id` as they are written by this process. */
  follow(id: string, onLine: (line: string) => void): () => void {
    this.bus.on(id, onLine);
    return () => this.bus.off(id, onLine);
  }

  /**
   * Every line of the log, what exists and then new ones, from wherever it is: this node's copy,
   * or the holder's over the log relay. `onEnd` when the holder's stream ends.
   */
  stream(id: string, onLine: (line: string) => void, onEnd: () => void): () => void {
    const file = this.file(id);
    if (!existsSync(file)) {
      const stop = this.remote?.follow(id, onLine, onEnd);
      if (stop) return stop;
    }
    const existing = existsSync(file) ? readFileSync(file, "utf8") : "";
    for (const line of existing.split("\n")) if (line) onLine(line);
    return this.follow(id, onLine);
  }
}
