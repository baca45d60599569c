import { EventEmitter } from "node:events";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assertItemId } from "../pipeline/item-id.js";

export interface LogEntry {
  t: number;
  node?: string;
  slot?: string;
  /** `event` (a runtime's JSON event), `stdout`, `stderr`, `info`, `gate`. */
  kind: string;
  text?: string;
  event?: unknown;
}

/**
 * Per-story logs as JSON lines in `.huskies/logs/<id>.log` on the node that ran the work.
 * Another node's log is fetched from that node's HTTP port (its address is in `nodes`).
 */
export class StoryLogs {
  private readonly bus = new EventEmitter();

  constructor(
    private readonly dir: string,
    private readonly remoteBase: (id: string) => string | undefined = () => undefined,
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

  append(id: string, entry: Omit<LogEntry, "t">): void {
    const line = JSON.stringify({ t: Date.now(), ...entry });
    appendFileSync(this.file(id), line + "\n");
    this.bus.emit(id, line);
  }

  async read(id: string, opts: { local?: boolean } = {}): Promise<string | undefined> {
    const file = this.file(id);
    if (existsSync(file)) return readFileSync(file, "utf8");
    const base = opts.local ? undefined : this.remoteBase(id);
    if (!base) return undefined;
    try {
      const res = await fetch(`${base}/api/stories/${id}/log?local=1`, { signal: AbortSignal.timeout(5000) });
      return res.ok ? await res.text() : undefined;
    } catch {
      return undefined;
    }
  }

  /** Base URL of the node holding `id`'s log, when that is another node and this one has no copy. */
  remoteFor(id: string): string | undefined {
    return existsSync(this.file(id)) ? undefined : this.remoteBase(id);
  }

  /** New lines for `id` as they are written by this process. */
  follow(id: string, onLine: (line: string) => void): () => void {
    this.bus.on(id, onLine);
    return () => this.bus.off(id, onLine);
  }
}
