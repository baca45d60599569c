import type { ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";

/** A log line of a huskies process, stamped with when the chaos run received it (its own monotonic ms). */
export interface Received {
  at: number;
  node: string;
  line: Record<string, unknown>;
}

/** The log lines the invariants read; everything else only counts toward the log volume. */
const KEPT = new Set([
  "job started",
  "job finished",
  "claimed autonomously (rendezvous unreachable)",
  "claim lost: stopping coder, keeping worktree",
  "huskies node listening",
]);

/**
 * One run of one huskies process of the chaos cluster: its JSON log (every line to a file, the
 * lines the invariants need in memory with their arrival time, the last lines for a report), its
 * log volume per minute, and its exit. `expectExit()` marks an exit the schedule causes; any
 * other exit is a violation.
 */
export class NodeProcess {
  port = 0;
  nodeId = "";
  readonly events: Received[] = [];
  readonly tail: string[] = [];
  /** Bytes logged per minute since the run began (index = minute). */
  readonly bytesPerMinute: number[] = [];
  exitedWith: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  expected = false;
  readonly exited: Promise<void>;
  private readonly file: WriteStream;
  private readonly listening: Promise<void>;

  constructor(
    readonly node: string,
    readonly proc: ChildProcess,
    logFile: string,
    epoch: number,
    private readonly onEvent: (r: Received) => void,
  ) {
    this.file = createWriteStream(logFile, { flags: "a" });
    let resolveListening!: () => void;
    this.listening = new Promise((r) => (resolveListening = r));
    const onLine = (text: string) => {
      const at = performance.now();
      const minute = Math.floor((at - epoch) / 60_000);
      this.bytesPerMinute[minute] = (this.bytesPerMinute[minute] ?? 0) + Buffer.byteLength(text) + 1;
      this.file.write(text + "\n");
      this.tail.push(text.slice(0, 400));
      if (this.tail.length > 60) this.tail.shift();
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      const msg = String(line.msg ?? "");
      if (!KEPT.has(msg)) return;
      if (msg === "huskies node listening") {
        this.port = Number(line.port);
        this.nodeId = String(line.nodeId ?? "");
        resolveListening();
      }
      const r = { at, node, line };
      this.events.push(r);
      this.onEvent(r);
    };
    createInterface({ input: proc.stderr! }).on("line", onLine);
    createInterface({ input: proc.stdout! }).on("line", (l) => this.tail.push(`stdout: ${l.slice(0, 400)}`));
    this.exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        this.exitedWith = { code, signal, at: performance.now() };
        this.file.end();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.exitedWith === undefined;
  }

  /** Resolves when the process says it listens; rejects if it exits first or `timeoutMs` passes. */
  async ready(timeoutMs: number): Promise<this> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.listening,
        this.exited.then(() => {
          throw new Error(
            `${this.node} exited (${this.exitedWith?.code ?? this.exitedWith?.signal}) before listening:\n${this.tail.join("\n")}`,
          );
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.node} did not listen within ${timeoutMs} ms:\n${this.tail.join("\n")}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    return this;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.proc.kill(sig);
  }

  /** The schedule ends this process: its exit is not a violation. */
  expectExit(): void {
    this.expected = true;
  }

  /** Stop for good: SIGCONT (it may be frozen), SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.expected = true;
    if (!this.running) return;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const t = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}
