import { EventEmitter } from "node:events";
import WebSocket from "ws";
import { BACKOFF_ERROR_AFTER } from "../config/defaults.js";
import { Backoff } from "./backoff.js";
import type { Identity } from "./identity.js";
import { SyncConnection } from "./sync-connection.js";
import type { SyncHub } from "./sync-hub.js";

export interface SyncClientOptions {
  url: string;
  hub: SyncHub;
  identity: Identity;
  joinToken?: string;
  /** Bearer token appended as `?token=` (for servers that admit by token). */
  token?: string;
  maxFrameBytes: number;
  backoff?: Backoff;
  /** This is the link to the rendezvous. */
  upstream?: boolean;
}

/**
 * A sync link that keeps itself up: connect, authenticate, sync, and on loss reconnect with
 * backoff (warn each time, error after ten failures in a row).
 */
export class SyncClient extends EventEmitter<{ connected: []; disconnected: []; synced: [] }> {
  private link: SyncConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: Backoff;

  constructor(private readonly opts: SyncClientOptions) {
    super();
    this.backoff = opts.backoff ?? new Backoff();
  }

  get connected(): boolean {
    return !!this.link?.ready;
  }

  get synced(): boolean {
    return !!this.link?.synced;
  }

  get peerId(): string | undefined {
    return this.link?.peerId;
  }

  /** Bytes queued for the peer but not yet sent. */
  get bufferedAmount(): number {
    return this.link?.ws.bufferedAmount ?? 0;
  }

  get url(): string {
    return this.opts.url;
  }

  start(): this {
    this.connect();
    return this;
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(this.opts.url);
    if (this.opts.token) url.searchParams.set("token", this.opts.token);
    const ws = new WebSocket(url, { maxPayload: this.opts.maxFrameBytes, handshakeTimeout: 10_000 });
    const link = new SyncConnection(ws, this.opts.hub, { kind: "connect", identity: this.opts.identity, joinToken: this.opts.joinToken, upstream: this.opts.upstream });
    this.link = link;
    link.on("ready", () => {
      this.opts.hub.log.info({ url: this.opts.url, peer: link.peerId?.slice(0, 12) }, "sync link up");
      this.backoff.reset();
      this.emit("connected");
    });
    link.on("synced", () => this.emit("synced"));
    link.on("closed", (code, reason) => {
      if (this.link !== link) return;
      this.link = undefined;
      this.emit("disconnected");
      if (this.stopped) return;
      const delay = this.backoff.next();
      const level = this.backoff.failures > BACKOFF_ERROR_AFTER ? "error" : "warn";
      this.opts.hub.log[level]({ url: this.opts.url, code, reason, retryInMs: delay, failures: this.backoff.failures }, "sync link down, reconnecting");
      this.timer = setTimeout(() => this.connect(), delay);
      this.timer.unref();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.link?.ws.close(1000, "bye");
    this.link = undefined;
  }
}
