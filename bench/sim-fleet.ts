import { Worker } from "node:worker_threads";
import type { SimCommand, SimReport, SimWorkerData } from "./sim-worker.js";

export interface FleetEvents {
  granted(node: string, id: string, ms: number | undefined, full: boolean, seenAt: number): void;
  submitted(id: string): void;
}

/**
 * Simulated agents spread over `threads` worker threads of this process (agents go round-robin,
 * so every thread holds a slice of every fleet size). The main thread only orchestrates.
 */
export class SimFleet {
  private readonly workers: Worker[];
  private size = 0;
  private seq = 0;
  private readonly waiting = new Map<number, Array<(r: Extract<SimReport, { t: "status" }>) => void>>();

  constructor(
    threads: number,
    data: SimWorkerData,
    private readonly events: FleetEvents,
  ) {
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(new URL("./sim-worker.js", import.meta.url), { workerData: data });
      w.on("message", (r: SimReport) => this.onReport(r));
      w.on("error", (err) => {
        throw err;
      });
      return w;
    });
  }

  get count(): number {
    return this.size;
  }

  private added: Array<() => void> = [];

  private onReport(r: SimReport): void {
    if (r.t === "granted") this.events.granted(r.node, r.id, r.ms, r.full, r.seenAt);
    else if (r.t === "submitted") this.events.submitted(r.id);
    else if (r.t === "added") this.added.shift()?.();
    else if (r.t === "status") this.waiting.get(r.seq)?.shift()?.(r);
  }

  /** Grow the fleet to `n` agents, `batch` joining at a time; beats spread over `intervalMs`. */
  async grow(n: number, fullReplicas: number, intervalMs: number, batch = 10): Promise<void> {
    while (this.size < n) {
      const joining = Math.min(batch, n - this.size);
      const perWorker = new Map<Worker, Array<{ index: number; full: boolean; beatOffsetMs: number }>>();
      for (let k = 0; k < joining; k++) {
        const index = this.size + k;
        const w = this.workers[index % this.workers.length]!;
        const list = perWorker.get(w) ?? [];
        list.push({ index, full: index < fullReplicas, beatOffsetMs: (index / n) * intervalMs });
        perWorker.set(w, list);
      }
      await Promise.all(
        [...perWorker].map(
          ([w, agents]) =>
            new Promise<void>((resolve) => {
              this.added.push(resolve);
              w.postMessage({ t: "add", agents } satisfies SimCommand);
            }),
        ),
      );
      this.size += joining;
    }
  }

  /** Heartbeats sent so far, and the fewest node entries any agent sees. */
  async status(): Promise<{ beats: number; minNodesSeen: number; docClients: number }> {
    const seq = ++this.seq;
    const replies = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<Extract<SimReport, { t: "status" }>>((resolve) => {
            const list = this.waiting.get(seq) ?? [];
            list.push(resolve);
            this.waiting.set(seq, list);
            w.postMessage({ t: "status", seq } satisfies SimCommand);
          }),
      ),
    );
    this.waiting.delete(seq);
    const active = replies.filter((r) => r.minNodesSeen > 0);
    return {
      beats: replies.reduce((s, r) => s + r.beats, 0),
      minNodesSeen: active.length ? Math.min(...active.map((r) => r.minNodesSeen)) : 0,
      docClients: Math.max(...replies.map((r) => r.docClients)),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map((w) =>
        new Promise<void>((resolve) => {
          w.once("message", () => resolve());
          w.postMessage({ t: "stop" } satisfies SimCommand);
        }).then(() => w.terminate()),
      ),
    );
  }
}
