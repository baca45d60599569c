import { EventEmitter } from "node:events";
import WebSocket from "ws";
import { AUTH_TIMEOUT_MS, BACKOFF_ERROR_AFTER, LINK_PING_MS } from "../config/defaults.js";
import { UserError } from "../errors.js";
import type { Certificate } from "../trust/admission.js";
import type { AuthVerdict } from "../trust/auth-policy.js";
import { Backoff } from "./backoff.js";
import { HealProbe, tcpProbe, urlEndpoint, type Probe } from "./heal-probe.js";
import type { Identity } from "../trust/identity.js";
import { SyncConnection } from "./sync-connection.js";
import type { SyncHub } from "./sync-hub.js";
import { pinMismatch, REJOIN_HINT, type TlsPin } from "../trust/tls-pin.js";
import { systemClock, type Clock, type TimerHandle } from "../util/clock.js";
import { channelBinding } from "../trust/handshake.js";
import { plaintextRefusal } from "../trust/plaintext.js";
import type { FollowVerdict } from "../trust/follow-handover.js";
import type { Handover } from "../trust/operator-keys.js";

export interface SyncClientOptions {
  url: string;
  hub: SyncHub;
  identity: Identity;
  joinToken?: string;
  /** Bearer token appended as `?token=` (for servers that admit by token). Never sent on a pinned link. */
  token?: string;
  maxFrameBytes: number;
  backoff?: Backoff;
  /** This is the link to the rendezvous. */
  upstream?: boolean;
  /** The node id we dial (mesh: the peer's id; upstream: the known rendezvous key). Another key answering drops the link (4001). */
  expectedPeer?: string | (() => string | undefined);
  /** This node's certificate, presented in every handshake. */
  admission?: () => Certificate | undefined;
  /** Whether the node that answered may sync with us (mesh links). */
  admitPeer?: (peerId: string, credential?: Certificate) => AuthVerdict;
  /** A certificate the rendezvous issued to this node (persist it: `.huskies/admission.json`). */
  onAdmission?: (cert: Certificate) => void;
  /** A pinned server (join string): fingerprint checked before any frame, node id checked at the welcome. A mismatch is permanent. */
  pin?: TlsPin;
  /** `allow_plaintext`: dial plain ws:// to another host (refused otherwise, permanently). */
  allowPlaintext?: () => boolean;
  /** While in backoff, probe the server and reconnect as soon as it is back. Default: on for upstream links. */
  healProbe?: boolean | Probe;
  /**
   * Upstream: another key answered and showed `handover` (or none). Return ok to follow it (the
   * caller re-pins; the next handshake proves the key), or why not: the link then stops for good.
   */
  followHandover?: (answered: string, handover: Handover | undefined) => FollowVerdict;
  /** Timers (reconnect, ping, handshake deadline); the real clock unless a simulation drives it. */
  clock?: Clock;
  /** Ping interval of the link (`link_ping_secs`); two unanswered pings close it. Default `LINK_PING_MS`. */
  pingMs?: number;
  /** Deadline for connecting and finishing the handshake (`handshake_timeout_secs`). Default `AUTH_TIMEOUT_MS`. */
  handshakeMs?: number;
}

export interface SyncClientEvents {
  connected: [];
  disconnected: [];
  synced: [];
  /** A permanent failure (pinned certificate or key mismatch): the client has stopped. */
  failed: [error: UserError];
}

/**
 * A sync link that keeps itself up: connect, authenticate, sync, and on loss reconnect with
 * backoff (warn each time, error after ten failures in a row). Upstream, a cheap probe cuts the
 * backoff short when the server comes back (see heal-probe.ts).
 */
export class SyncClient extends EventEmitter<SyncClientEvents> {
  private link: SyncConnection | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly probe: HealProbe | undefined;
  private failure: UserError | undefined;
  private local: string | undefined;
  /** An authenticated link to the expected peer was up at least once in this run. */
  private linkedBefore = false;
  /** The rendezvous key an operator's handover moved this link to (overrides a join string's pin). */
  private followed: string | undefined;

  constructor(private readonly opts: SyncClientOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.backoff = opts.backoff ?? new Backoff();
    const probeOpt = opts.healProbe ?? !!opts.upstream;
    if (probeOpt) {
      const { host, port } = urlEndpoint(opts.url);
      this.probe = new HealProbe(typeof probeOpt === "function" ? probeOpt : tcpProbe(host, port), () => this.reconnectNow());
    }
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

  /** The local address of the current link's socket: the interface that reaches this peer (see advertised-address.ts). */
  get localAddress(): string | undefined {
    return this.link ? this.local : undefined;
  }

  get url(): string {
    return this.opts.url;
  }

  start(): this {
    this.connect();
    return this;
  }

  private expectedPeer(): string | undefined {
    const e = this.followed ?? this.opts.pin?.nodeId ?? this.opts.expectedPeer;
    return typeof e === "function" ? e() : e;
  }

  private connect(): void {
    if (this.stopped) return;
    this.probe?.stop();
    const url = new URL(this.opts.url);
    const pin = this.opts.pin;
    const pinned = !!(pin?.fingerprint256 || pin?.nodeId);
    if (pin?.fingerprint256 && url.protocol !== "wss:") return this.fail(`a pinned certificate needs a wss:// URL, not ${url.protocol}//`);
    const plain = plaintextRefusal(this.opts.url, !!this.opts.allowPlaintext?.());
    // After the caller's listeners are attached (start() runs inside the node's start).
    if (plain) return void setImmediate(() => this.fail(plain));
    if (this.opts.token && !pinned) url.searchParams.set("token", this.opts.token);
    const ws = new WebSocket(url, {
      maxPayload: this.opts.maxFrameBytes,
      // Bounded twice: ws gives up on an unanswered upgrade, and the link's own handshake deadline
      // (the same length, from now) covers the rest up to the welcome. A frozen server that
      // accepts TCP but never answers is then one failed attempt, never a hang or a crash.
      handshakeTimeout: this.opts.handshakeMs ?? AUTH_TIMEOUT_MS,
      // A pinned self-signed certificate fails CA validation; the fingerprint check below replaces it.
      ...(pin?.fingerprint256 ? { rejectUnauthorized: false } : {}),
    });
    let opened = false;
    ws.on("open", () => {
      opened = true;
    });
    let socket: unknown;
    ws.on("upgrade", (res) => {
      this.local = res.socket.localAddress;
      socket = res.socket;
    });
    if (pin?.fingerprint256) {
      // 'upgrade' comes before 'open' and before any frame is read or sent.
      ws.on("upgrade", (res) => {
        const why = pinMismatch(pin, res.socket);
        if (!why) return;
        this.failure = new UserError(`refusing ${this.opts.url}: ${why}${this.replaced() ? `; ${REJOIN_HINT}` : ""}`);
        ws.terminate();
      });
    }
    const link = new SyncConnection(
      ws,
      this.opts.hub,
      {
        kind: "connect",
        identity: this.opts.identity,
        joinToken: this.opts.joinToken,
        upstream: this.opts.upstream,
        expectedPeer: this.expectedPeer(),
        admission: this.opts.admission,
        admitPeer: this.opts.admitPeer,
        onAdmission: this.opts.onAdmission,
        binding: () => channelBinding(socket),
      },
      {
        maxFrameBytes: this.opts.maxFrameBytes,
        pingMs: this.opts.pingMs ?? LINK_PING_MS,
        handshakeMs: this.opts.handshakeMs ?? AUTH_TIMEOUT_MS,
        clock: this.clock,
      },
    );
    this.link = link;
    link.on("ready", () => {
      this.opts.hub.log.info({ url: this.opts.url, peer: link.peerId?.slice(0, 12) }, "sync link up");
      this.backoff.reset();
      this.linkedBefore = true;
      this.emit("connected");
    });
    link.on("synced", () => this.emit("synced"));
    link.on("closed", (code, reason) => {
      if (this.link !== link) return;
      this.link = undefined;
      this.emit("disconnected");
      if (this.stopped) return;
      // Upstream, another key answering is final too: the rendezvous key is pinned (a join
      // string) or known from an earlier run (.huskies/rendezvous.json), and retrying cannot help.
      if (!this.failure && link.peerMismatch && (pin?.nodeId || this.opts.upstream)) {
        const { actual, expected, handover } = link.peerMismatch;
        const verdict = this.opts.upstream ? this.opts.followHandover?.(actual, handover) : undefined;
        if (verdict?.ok) {
          this.opts.hub.log.warn(
            { url: this.opts.url, from: expected.slice(0, 12), to: actual.slice(0, 12), operator: handover?.operator.slice(0, 12) },
            "following a new rendezvous key that an operator key vouched for",
          );
          this.followed = actual;
          return this.connect();
        }
        // Why a handover that was shown is not followed; without one the line stays as before.
        const why = handover && verdict && !verdict.ok ? ` (not followed: ${verdict.reason})` : "";
        this.failure = new UserError(
          this.replaced() || this.followed
            ? `refusing ${this.opts.url}: node ${actual} answered${why}, this checkout follows rendezvous ${expected} (.huskies/rendezvous.json); ${REJOIN_HINT}`
            : `refusing ${this.opts.url}: node ${actual} answered${why}, the join string pins ${expected}`,
        );
      }
      if (this.failure) return this.fail(this.failure.message);
      const delay = this.backoff.next();
      const level = this.backoff.failures > BACKOFF_ERROR_AFTER ? "error" : "warn";
      this.opts.hub.log[level](
        { url: this.opts.url, code, reason, retryInMs: delay, failures: this.backoff.failures },
        "sync link down, reconnecting",
      );
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.connect();
      }, delay);
      this.probe?.start(!opened);
    });
  }

  /**
   * Whether a refused rendezvous may have been replaced rather than mistyped: its key was known
   * before this run (no join string now) or a link to it was up earlier in this run.
   */
  private replaced(): boolean {
    return !!this.opts.upstream && (!this.opts.pin?.nodeId || this.linkedBefore);
  }

  /** The probe saw the server come back: skip the rest of the backoff. */
  private reconnectNow(): void {
    if (this.stopped || this.link || this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.opts.hub.log.info({ url: this.opts.url }, "server reachable again: reconnecting now");
    this.connect();
  }

  private fail(message: string): void {
    this.stopped = true;
    this.probe?.stop();
    const err = this.failure ?? new UserError(message);
    this.opts.hub.log.error({ url: this.opts.url }, err.message);
    this.emit("failed", err);
  }

  stop(): void {
    this.stopped = true;
    this.probe?.stop();
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.link?.ws.close(1000, "bye");
    } catch {
      this.link?.ws.terminate();
    }
    this.link = undefined;
  }
}
