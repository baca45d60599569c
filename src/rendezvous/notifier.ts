import { randomUUID } from "node:crypto";
import type { NOTIFY_EVENTS, NotifyTarget } from "../config/project-config.js";
import * as D from "../config/defaults.js";
import { VERSION } from "../version.js";

export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

/** What happened; the `json` format POSTs exactly this (plus `project`). */
export interface NotifyEvent {
  event: NotifyEventName;
  story?: string;
  node?: string;
  reason?: string;
  /** For `blocked`: the item's `failure.kind` (e.g. `node_trouble_everywhere`, `push_rejected`). */
  kind?: string;
  /** When it happened (ms). */
  at: number;
}

interface Log {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface NotifierOptions {
  /** Named in every payload so one receiver can serve several projects. */
  project?: string;
  attempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  queueMax?: number;
  log?: Log;
}

interface Delivery {
  id: string;
  body: string;
  ev: NotifyEvent;
}

interface Queue {
  target: NotifyTarget;
  items: Delivery[];
  running: boolean;
}

/**
 * Webhooks for `[[notify]]` entries. `notify` returns at once: each target has its own queue,
 * delivered in order by one worker, so a slow or dead receiver delays only itself and never the
 * pipeline. Each event is POSTed once per subscribed target; failures (network, timeout, 408,
 * 429, 5xx) are retried with exponential backoff up to `attempts`, then logged and dropped. The
 * `x-huskies-event-id` header stays the same across retries so a receiver can drop duplicates
 * (a retry after a timeout may deliver twice; nothing is ever delivered zero times silently).
 */
export class Notifier {
  private readonly queues = new Map<string, Queue>();
  /** Pending backoff sleeps, so `close` can end them at once. */
  private readonly sleeping = new Map<NodeJS.Timeout, () => void>();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly o: Required<Omit<NotifierOptions, "project" | "log">> & Pick<NotifierOptions, "project" | "log">;

  /** `targets` is read on every event, so a config reload applies to the next one. */
  constructor(
    private readonly targets: () => readonly NotifyTarget[],
    opts: NotifierOptions = {},
  ) {
    this.o = {
      attempts: D.NOTIFY_ATTEMPTS,
      initialBackoffMs: D.NOTIFY_BACKOFF_INITIAL_MS,
      maxBackoffMs: D.NOTIFY_BACKOFF_MAX_MS,
      timeoutMs: D.NOTIFY_TIMEOUT_MS,
      queueMax: D.NOTIFY_QUEUE_MAX,
      ...opts,
    };
  }

  notify(ev: NotifyEvent): void {
    if (this.closed) return;
    try {
      for (const target of this.targets()) {
        if (!target.events.includes(ev.event)) continue;
        const key = `${target.format} ${target.url}`;
        let q = this.queues.get(key);
        if (!q) this.queues.set(key, (q = { target, items: [], running: false }));
        if (q.items.length >= this.o.queueMax) {
          const dropped = q.items.shift()!;
          this.o.log?.warn(
            { url: urlForLog(target.url), event: dropped.ev.event, story: dropped.ev.story },
            "webhook queue full: dropped the oldest event",
          );
        }
        q.items.push({ id: randomUUID(), ev, body: JSON.stringify(payload(ev, target.format, this.o.project)) });
        if (!q.running) void this.drain(q);
      }
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message, event: ev.event }, "webhook notification failed");
    }
  }

  /** Resolves once every queued event is delivered or given up (tests, orderly shutdown). */
  idle(): Promise<void> {
    if (this.busy()) return new Promise((resolve) => this.idleWaiters.push(resolve));
    return Promise.resolve();
  }

  /** Stop: pending retries are dropped. */
  close(): void {
    this.closed = true;
    for (const [t, wake] of this.sleeping) {
      clearTimeout(t);
      wake();
    }
    this.sleeping.clear();
    for (const q of this.queues.values()) q.items.length = 0;
  }

  private busy(): boolean {
    return [...this.queues.values()].some((q) => q.running || q.items.length > 0);
  }

  private async drain(q: Queue): Promise<void> {
    q.running = true;
    try {
      while (q.items.length && !this.closed) await this.deliver(q.target, q.items.shift()!);
    } finally {
      q.running = false;
      if (!this.busy()) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async deliver(target: NotifyTarget, d: Delivery): Promise<void> {
    // A webhook URL is a secret (Slack's path is the credential): logs get its scheme and host only.
    const ctx = { url: urlForLog(target.url), event: d.ev.event, story: d.ev.story, node: d.ev.node };
    for (let attempt = 1; attempt <= this.o.attempts && !this.closed; attempt++) {
      const { outcome, error } = await this.post(target.url, d);
      if (outcome === "ok") return;
      if (outcome === "permanent" || attempt === this.o.attempts) {
        this.o.log?.warn({ ...ctx, attempts: attempt, error }, "webhook failed: event dropped");
        return;
      }
      const delay = Math.min(this.o.maxBackoffMs, this.o.initialBackoffMs * 2 ** (attempt - 1));
      this.o.log?.debug({ ...ctx, attempt, retryInMs: delay, error }, "webhook attempt failed, retrying");
      await this.sleep(delay);
    }
  }

  private async post(url: string, d: Delivery): Promise<{ outcome: "ok" | "retry" | "permanent"; error?: string }> {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": `huskies/${VERSION}`, "x-huskies-event-id": d.id },
        body: d.body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        // Never followed: a 307 would replay the POST and its body to wherever it points (a
        // loopback admin URL); a receiver that moved is a configuration error.
        redirect: "manual",
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { outcome: "ok" };
      if (res.status >= 300 && res.status < 400) return { outcome: "permanent", error: `HTTP ${res.status} redirect (not followed)` };
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      return { outcome: retry ? "retry" : "permanent", error: `HTTP ${res.status}` };
    } catch (err) {
      const timedOut = (err as Error).name === "TimeoutError";
      return {
        outcome: "retry",
        error: timedOut ? `no answer in ${this.o.timeoutMs} ms` : String((err as Error).cause ?? (err as Error).message),
      };
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleeping.delete(t);
        resolve();
      }, ms);
      // Retries never keep a stopping process alive.
      t.unref();
      this.sleeping.set(t, resolve);
    });
  }
}

/** The body POSTed for an event: the event itself (`json`) or a Slack incoming-webhook message. */
export function payload(ev: NotifyEvent, format: NotifyTarget["format"], project?: string): object {
  if (format === "json") return { ...ev, ...(project ? { project } : {}) };
  return { text: slackText(ev, project) };
}

/** `scheme://host[:port]` of a URL, for logs. */
export function urlForLog(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * Slack's text markup: `<!channel>`, `<@U123>` and `<https://x|label>` are all made of `<`, `>`
 * and `&`; escaping those three (as Slack documents) shows a story's text as text.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function slackText(raw: NotifyEvent, rawProject?: string): string {
  const ev = {
    ...raw,
    story: raw.story === undefined ? undefined : escapeSlack(raw.story),
    node: raw.node === undefined ? undefined : escapeSlack(raw.node),
  };
  const project = rawProject === undefined ? undefined : escapeSlack(rawProject);
  const where = project ? `[${project}] ` : "";
  const why = raw.reason ? `: ${escapeSlack(raw.reason)}` : "";
  switch (ev.event) {
    case "blocked":
      return `${where}:no_entry: ${ev.story} is blocked${why}`;
    case "done":
      return `${where}:white_check_mark: ${ev.story} is done`;
    case "paused":
      return `${where}:pause_button: node ${ev.node} paused${why}`;
    case "merge_failed":
      return `${where}:warning: merging ${ev.story} failed, it is back in current${why}`;
    case "question":
      return `${where}:raising_hand: ${ev.story} needs a person${why}`;
  }
}
