import { LOG_RELAY_BATCH_BYTES, LOG_RELAY_MAX_FOLLOWS, LOG_RELAY_TIMEOUT_MS } from "../config/defaults.js";
import { ITEM_ID_PATTERN } from "../pipeline/item-id.js";
import type { LogFrame } from "./frames.js";
import { encodeLog } from "./sync-message.js";
import type { SyncConnection } from "./sync-connection.js";
import type { SyncHub } from "./sync-hub.js";

/** Where a node's own story logs are read (`StoryLogs` has this shape; pass local reads only). */
export interface LogSource {
  read(id: string): string | undefined | Promise<string | undefined>;
  follow(id: string, onLine: (line: string) => void): () => void;
}

type Pending = { link: SyncConnection; onData: (f: Extract<LogFrame, { type: "log-data" }>) => void; onGone: () => void };

/**
 * Story logs between nodes over their authenticated sync links (message type 103), by node id:
 * a node asks the peer that holds a log, never a URL from the document. Requests are answered
 * only on links whose peer proved its key; stock clients get nothing.
 *
 * `{type:"log-request", rid, story, follow}` → `{type:"log-data", rid, lines, end?, error?}`,
 * lines batched to about `LOG_RELAY_BATCH_BYTES`; a follow streams new lines until
 * `{type:"log-cancel", rid}` or the link closes.
 */
export class LogRelay {
  private nextRid = 1;
  private readonly pending = new Map<number, Pending>();
  /** Follows this node serves, by link, then rid. */
  private readonly serving = new Map<SyncConnection, Map<number, () => void>>();
  private readonly onFrame = (link: SyncConnection, frame: LogFrame) => this.receive(link, frame);
  private readonly onRemoved = (link: SyncConnection) => this.linkGone(link);

  constructor(
    private readonly hub: SyncHub,
    private readonly source?: LogSource,
    private readonly timeoutMs = LOG_RELAY_TIMEOUT_MS,
  ) {
    hub.on("log", this.onFrame);
    hub.on("link-removed", this.onRemoved);
  }

  /** The whole log of `storyId` from `peerId`, or undefined (no link, no log, timeout). */
  fetch(peerId: string, storyId: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const link = this.hub.linkTo(peerId);
      if (!link) return resolve(undefined);
      const rid = this.nextRid++;
      const lines: string[] = [];
      const finish = (text: string | undefined) => {
        clearTimeout(timer);
        this.pending.delete(rid);
        resolve(text);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      timer.unref();
      this.pending.set(rid, {
        link,
        onData: (f) => {
          if (f.error) return finish(undefined);
          lines.push(...f.lines);
          if (f.end) finish(lines.map((l) => `${l}\n`).join(""));
        },
        onGone: () => finish(undefined),
      });
      link.send(encodeLog({ type: "log-request", rid, story: storyId, follow: false }));
    });
  }

  /**
   * Every line of `storyId`'s log on `peerId` (what exists, then new lines as written) until the
   * returned function is called or the link closes (`onEnd`).
   */
  follow(peerId: string, storyId: string, onLine: (line: string) => void, onEnd?: (reason?: string) => void): () => void {
    const link = this.hub.linkTo(peerId);
    if (!link) {
      onEnd?.("no link to that node");
      return () => {};
    }
    const rid = this.nextRid++;
    const end = (reason?: string) => {
      if (!this.pending.delete(rid)) return;
      onEnd?.(reason);
    };
    this.pending.set(rid, {
      link,
      onData: (f) => {
        for (const l of f.lines) onLine(l);
        if (f.error || f.end) end(f.error);
      },
      onGone: () => end("link closed"),
    });
    link.send(encodeLog({ type: "log-request", rid, story: storyId, follow: true }));
    return () => {
      if (!this.pending.delete(rid)) return;
      link.send(encodeLog({ type: "log-cancel", rid }));
    };
  }

  private receive(link: SyncConnection, frame: LogFrame): void {
    if (frame.type === "log-data") {
      const p = this.pending.get(frame.rid);
      // Only the peer we asked may answer.
      if (p && p.link === link) p.onData(frame);
      return;
    }
    if (frame.type === "log-cancel") {
      const stop = this.serving.get(link)?.get(frame.rid);
      this.serving.get(link)?.delete(frame.rid);
      stop?.();
      return;
    }
    void this.serve(link, frame).catch((err) => {
      this.hub.log.warn({ err: (err as Error).message, story: frame.story }, "serving a log over the sync link failed");
      link.send(encodeLog({ type: "log-data", rid: frame.rid, lines: [], end: true, error: "could not read the log" }));
    });
  }

  private async serve(link: SyncConnection, req: Extract<LogFrame, { type: "log-request" }>): Promise<void> {
    const reply = (f: Omit<Extract<LogFrame, { type: "log-data" }>, "type" | "rid">) =>
      link.send(encodeLog({ type: "log-data", rid: req.rid, ...f }));
    if (!ITEM_ID_PATTERN.test(req.story)) return reply({ lines: [], end: true, error: "invalid story id" });
    if (!this.source) return reply({ lines: [], end: true, error: "this node keeps no logs" });
    const follows = this.serving.get(link) ?? new Map<number, () => void>();
    if (req.follow && follows.size >= LOG_RELAY_MAX_FOLLOWS) return reply({ lines: [], end: true, error: "too many follows on this link" });
    let cancelled = false;
    if (req.follow) {
      // Registered before the read, so a cancel that arrives meanwhile is not lost.
      follows.set(req.rid, () => {
        cancelled = true;
      });
      this.serving.set(link, follows);
    }
    const text = await this.source.read(req.story);
    if (!link.ready || cancelled) return;
    if (text === undefined && !req.follow) return reply({ lines: [], end: true, error: "no log" });
    const lines = (text ?? "").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const batches = batch(lines);
    batches.forEach((b, i) => reply({ lines: b, ...(i === batches.length - 1 && !req.follow ? { end: true } : {}) }));
    if (!req.follow) return;
    // New lines are coalesced per tick: a chatty coder costs one frame per tick, not per line.
    let queued: string[] = [];
    const flush = () => {
      const out = queued;
      queued = [];
      for (const b of batch(out)) reply({ lines: b });
    };
    const stop = this.source.follow(req.story, (line) => {
      if (!queued.length) setImmediate(flush);
      queued.push(line);
    });
    follows.set(req.rid, stop);
  }

  private linkGone(link: SyncConnection): void {
    for (const stop of this.serving.get(link)?.values() ?? []) stop();
    this.serving.delete(link);
    for (const p of [...this.pending.values()]) if (p.link === link) p.onGone();
  }

  stop(): void {
    this.hub.off("log", this.onFrame);
    this.hub.off("link-removed", this.onRemoved);
    for (const link of [...this.serving.keys()]) this.linkGone(link);
  }
}

/** Lines grouped so each group's JSON stays about `LOG_RELAY_BATCH_BYTES`; at least one (possibly empty) group. */
function batch(lines: string[]): string[][] {
  const out: string[][] = [[]];
  let size = 0;
  for (const l of lines) {
    const n = Buffer.byteLength(l) + 4;
    if (size + n > LOG_RELAY_BATCH_BYTES && out[out.length - 1]!.length) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1]!.push(l);
    size += n;
  }
  return out;
}
