import { EventEmitter } from "node:events";
import * as Y from "yjs";
import { AUTH_TIMEOUT_MS, MAX_BUFFERED_BYTES, MAX_REASSEMBLED_BYTES, SYNC_CHUNK_BYTES } from "../config/defaults.js";
import { verifyCertificate, type Certificate } from "../trust/admission.js";
import { Reassembler, splitFrame } from "./chunking.js";
import type { AuthFrame, Release } from "./frames.js";
import { commonProtocol, incompatibilityMessage, type ProtocolRange } from "../pipeline/compatibility.js";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../version.js";
import { answerText, newChallenge, welcomeText, type Side } from "../trust/handshake.js";
import { verifySignature } from "../trust/identity.js";
import type { Handover } from "../trust/operator-keys.js";
import {
  CHUNK_HEADER_BYTES,
  decodeFrame,
  encodeAuth,
  encodeStatus,
  encodeSyncStep1,
  encodeUpdate,
  MalformedFrame,
  type Incoming,
} from "./sync-message.js";
import type { SyncHub } from "./sync-hub.js";
import { frameBytes, WS_CONNECTING, WS_OPEN, type RawFrame, type WebSocketLike } from "./transport.js";
import { systemClock, type Clock, type TimerHandle } from "../util/clock.js";
import { isReverted } from "../util/reverted-fixes.js";

export const CLOSE_AUTH_FAILED = 4001;
export const CLOSE_MALFORMED = 4002;
export const CLOSE_TOO_SLOW = 4003;
export const CLOSE_TOO_BIG = 1009;
/** The peer speaks a protocol this release does not support (README "Versions"). */
export const CLOSE_UNSUPPORTED_PROTOCOL = 4005;

/** This node's release as it goes into every handshake frame. */
export type OwnRelease = ProtocolRange & { version: string };
const THIS_RELEASE: OwnRelease = { protocol: PROTOCOL, min: MIN_PROTOCOL, version: VERSION };

/** Peers already told about (peer id + protocol): a peer that redials keeps getting refused, but the line is logged once. */
const refusalsLogged = new Set<string>();

export type { Side } from "../trust/handshake.js";

export interface ConnectionOptions {
  maxFrameBytes: number;
  pingMs?: number;
  /**
   * The handshake's own deadline, from the moment the link exists (for a connector: the socket is
   * still connecting), apart from the ping interval: a peer that never finishes it is a closed
   * link (4001). Default `AUTH_TIMEOUT_MS`.
   */
  handshakeMs?: number;
  clock?: Clock;
  /** This node's release; tests use another to play an older or newer node. */
  release?: OwnRelease;
}

/**
 * One sync link over one socket, either side. The v2 handshake comes first (see handshake.ts):
 * the acceptor always sends a challenge; a huskies connector answers and is ready only once the
 * acceptor's welcome proves its key. Then each side sends sync step 1, answers the other's
 * step 1 with step 2, and streams updates. An acceptor in open mode (or given a valid bearer)
 * also serves a stock y-websocket client, which never answers and just starts syncing.
 * Any frame that fails to decode closes this link only (4002).
 */
export class SyncConnection extends EventEmitter<{ ready: []; synced: []; closed: [code: number, reason: string] }> {
  ready = false;
  synced = false;
  /** The authenticated peer's node id; undefined for a stock client. */
  peerId: string | undefined;
  /** The peer's last reported rendezvous link (see the hub's relay rule). */
  peerLinked = false;
  /** What the peer said of its release in the handshake (undefined for a stock client). */
  peerRelease: (ProtocolRange & { version?: string }) | undefined;
  /** The protocol both ends speak on this link (see `commonProtocol`). */
  protocol: number | undefined;
  /** Set when the connector refused the link because another key than the expected one answered. */
  peerMismatch: { expected: string; actual: string; handover?: Handover } | undefined;
  private myChallenge: string | undefined;
  private theirChallenge: string | undefined;
  private theirId: string | undefined;
  private answered = false;
  /** Acceptor: a `pending` welcome went out; the connector's join token may follow. */
  private awaitingToken = false;
  /** Connector: the welcome verified (the peer's key is proven). */
  private welcomed = false;
  /** Connector: the channel binding both signatures of this link cover. */
  private binding = "";
  private authTimer: TimerHandle | undefined;
  private alive = true;
  private pingTimer: TimerHandle | undefined;
  private readonly clock: Clock;
  private nextChunkId = 0;
  /** True while a sync step 2 is applied: its node entries are a catch-up, not heartbeats (see `SyncOrigin` in pipeline-doc.ts). */
  catchingUp = false;
  private readonly reassembler = new Reassembler(MAX_REASSEMBLED_BYTES);
  private readonly chunkBytes: number;
  private readonly release: OwnRelease;

  constructor(
    readonly ws: WebSocketLike,
    readonly hub: SyncHub,
    private readonly side: Side,
    opts: ConnectionOptions,
  ) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.release = opts.release ?? THIS_RELEASE;
    this.chunkBytes = Math.max(1, Math.min(SYNC_CHUNK_BYTES, opts.maxFrameBytes - CHUNK_HEADER_BYTES));
    const bin = ws as { binaryType?: string };
    if ("binaryType" in bin) bin.binaryType = "nodebuffer";
    ws.on("message", (data, isBinary) => this.receive(data, isBinary));
    ws.on("close", (code, reason) => this.teardown(code, reason.toString()));
    // ws closes oversized frames itself (1009) and reports why here; 'close' follows.
    ws.on("error", (err) => this.hub.log.warn({ peer: this.peerLabel, reason: err.message }, "closing sync connection"));
    ws.on("pong", () => {
      this.alive = true;
    });
    this.pingTimer = this.clock.setInterval(() => this.pingTick(), opts.pingMs ?? 30_000);
    const silent = side.kind === "accept" ? "no answer to the challenge" : "no welcome from the peer";
    this.authTimer = this.clock.setTimeout(() => this.close(CLOSE_AUTH_FAILED, silent), opts.handshakeMs ?? AUTH_TIMEOUT_MS);
    if (side.kind === "accept") {
      this.myChallenge = newChallenge();
      const handover = side.gate.handover?.();
      this.send(
        encodeAuth({
          type: "challenge",
          v: 2,
          nodeId: side.identity.nodeId,
          challenge: this.myChallenge,
          ...(handover ? { handover } : {}),
          ...this.ownRelease(),
        }),
      );
    }
  }

  /**
   * Every wait is bounded (docs/architecture.md, "Faults"): a peer that stops answering pings is a
   * closed link, never an exception. A socket still connecting is not pinged (ws throws "not
   * open: readyState 0" — the crash of every agent whose rendezvous froze); the handshake
   * deadline bounds that phase instead.
   */
  private pingTick(): void {
    if (isReverted("hung-peer")) {
      // Test-only: the code before the fix, which throws from this timer (see reverted-fixes.ts).
      if (!this.alive) return this.ws.terminate();
      this.alive = false;
      return this.ws.ping();
    }
    if (this.ws.readyState !== WS_OPEN) return;
    if (!this.alive) return this.terminate("no answer to two pings");
    this.alive = false;
    try {
      this.ws.ping();
    } catch (err) {
      this.terminate(`ping failed: ${(err as Error).message}`);
    }
  }

  /** Drop the socket at once (no closing handshake: the peer is not answering) and tear the link down. */
  private terminate(reason: string): void {
    if (this.pingTimer === undefined) return;
    this.hub.log.warn({ peer: this.peerLabel, reason }, "closing sync connection");
    try {
      this.ws.terminate();
    } catch {
      // Already gone; the teardown below is what matters.
    }
    this.teardown(1006, reason);
  }

  get upstream(): boolean {
    return this.side.kind === "connect" && !!this.side.upstream;
  }

  private get selfId(): string {
    return this.side.identity.nodeId;
  }

  private get peerLabel(): string | undefined {
    return (this.peerId ?? this.theirId)?.slice(0, 12);
  }

  private receive(data: RawFrame, isBinary: boolean): void {
    if (this.pingTimer === undefined) return; // already torn down
    let msg: Incoming;
    try {
      if (!isBinary) throw new MalformedFrame("text frame");
      msg = decodeFrame(frameBytes(data));
      if (msg.kind === "chunk") {
        if (!this.ready || !this.peerId) throw new MalformedFrame("chunk before authentication");
        const whole = this.reassembler.push(msg);
        if (!whole) return;
        msg = decodeFrame(whole);
        if (msg.kind === "chunk") throw new MalformedFrame("chunk inside a chunk");
      }
    } catch (err) {
      return this.close(CLOSE_MALFORMED, `malformed frame: ${(err as Error).message}`.slice(0, 120));
    }
    try {
      this.handle(msg);
    } catch (err) {
      // A bug or a poisoned update must cost this link, never the process.
      this.hub.log.error({ err, peer: this.peerLabel, kind: msg.kind }, "sync frame handling failed");
      this.close(CLOSE_MALFORMED, `frame rejected: ${(err as Error).message}`.slice(0, 120));
    }
  }

  private handle(msg: Incoming): void {
    if (msg.kind === "auth") return this.onAuth(msg.frame);
    if (!this.ready) {
      // A stock client on an open (or bearer-authorized) acceptor never answers: its first sync
      // frame is its way in. Everyone else must finish the handshake first.
      const gate = this.side.kind === "accept" ? this.side.gate : undefined;
      if (!gate?.preAuthorized || this.answered) return this.close(CLOSE_AUTH_FAILED, "sync before authentication");
      this.becomeReady();
    }
    switch (msg.kind) {
      case "sync-step1":
        this.hub.answerStep1(this, msg.stateVector);
        break;
      case "sync-update": {
        // What a peer may send (issue 27), before a byte of it is applied; the rendezvous' own link is exempt.
        const refused = this.upstream ? undefined : this.hub.updateGuard?.check(msg.update);
        if (refused) return this.close(refused.code === "unknown-root" ? CLOSE_MALFORMED : CLOSE_TOO_BIG, refused.reason);
        try {
          this.catchingUp = msg.step2;
          Y.applyUpdate(this.hub.doc, msg.update, this);
        } catch (err) {
          return this.close(CLOSE_MALFORMED, `update rejected: ${(err as Error).message}`.slice(0, 120));
        } finally {
          this.catchingUp = false;
        }
        if (msg.step2 && !this.synced) {
          this.synced = true;
          this.emit("synced");
          if (this.peerId) this.hub.emit("peer-synced", this.peerId, this);
        }
        break;
      }
      case "awareness":
        this.hub.awareness.apply(this, msg.update, msg.clients);
        break;
      case "query-awareness":
        this.hub.awareness.sendStates(this);
        break;
      case "status":
        if (!this.peerId) return this.close(CLOSE_MALFORMED, "status from an unauthenticated client");
        this.onStatus(msg.linked);
        break;
      case "log":
        if (!this.peerId) return this.close(CLOSE_AUTH_FAILED, "log relay needs an authenticated peer");
        this.hub.emit("log", this, msg.frame);
        break;
    }
  }

  private onAuth(frame: AuthFrame): void {
    if (this.side.kind === "connect") return this.onAuthAsConnector(this.side, frame);
    if (frame.type === "token" && this.awaitingToken && !this.ready) return this.onToken(this.side, frame.joinToken);
    if (frame.type !== "answer" || this.answered || this.ready) return this.close(CLOSE_MALFORMED, `unexpected auth frame ${frame.type}`);
    this.answered = true;
    const [a, c, cA, cC] = [this.selfId, frame.nodeId, this.myChallenge!, frame.challenge];
    if (c === a) return this.close(CLOSE_AUTH_FAILED, "a node cannot link to itself");
    // The release first: an older node signs another text, and deserves the upgrade message, not "bad signature".
    if (!this.acceptRelease(c, frame)) return;
    const binding = this.side.binding?.() ?? "";
    if (!verifySignature(c, answerText(a, c, cA, cC, binding), frame.signature)) {
      return this.close(CLOSE_AUTH_FAILED, binding ? "bad signature (or not over this TLS channel: a relay?)" : "bad signature");
    }
    const refused = this.side.refusePeer?.();
    if (refused) return this.close(CLOSE_AUTH_FAILED, refused);
    this.theirId = c;
    // A join token in the answer (before this node proved its key) is never used.
    const verdict = this.side.gate.admit({ nodeId: c, admission: frame.admission });
    if (!verdict.ok && !(verdict.tokenMayAdmit && frame.joining)) return this.close(CLOSE_AUTH_FAILED, verdict.reason);
    const welcome = {
      type: "welcome" as const,
      nodeId: a,
      signature: this.side.identity.sign(welcomeText(a, c, cA, cC, binding)),
      credential: this.side.gate.credential(),
      ...this.ownRelease(),
    };
    if (!verdict.ok) {
      // Prove this node's key first; a connector with a join token sends it once it has checked.
      this.awaitingToken = true;
      this.send(encodeAuth({ ...welcome, pending: true }));
      return;
    }
    this.peerId = c;
    this.send(encodeAuth({ ...welcome, admission: verdict.issued }));
    this.becomeReady();
  }

  private onToken(side: Extract<Side, { kind: "accept" }>, joinToken: string): void {
    this.awaitingToken = false;
    const c = this.theirId!;
    const verdict = side.gate.admit({ nodeId: c, joinToken });
    if (!verdict.ok) return this.close(CLOSE_AUTH_FAILED, verdict.reason);
    this.peerId = c;
    this.send(encodeAuth({ type: "admitted", admission: verdict.issued }));
    this.becomeReady();
  }

  private onAuthAsConnector(side: Extract<Side, { kind: "connect" }>, frame: AuthFrame): void {
    if (frame.type === "challenge" && !this.theirChallenge && !this.ready) {
      const a = frame.nodeId;
      this.theirId = a;
      // Checked before answering: nothing (signature, join token) goes to a key we did not dial.
      if (side.expectedPeer && a !== side.expectedPeer) return this.mismatch(side.expectedPeer, a, frame.handover);
      if (a === this.selfId) return this.close(CLOSE_AUTH_FAILED, "a node cannot link to itself");
      // Before answering: a node whose protocol we do not speak gets no signature and no token.
      if (!this.acceptRelease(a, frame)) return;
      this.theirChallenge = frame.challenge;
      this.myChallenge = newChallenge();
      this.binding = side.binding?.() ?? "";
      const signature = side.identity.sign(answerText(a, this.selfId, frame.challenge, this.myChallenge, this.binding));
      this.send(
        encodeAuth({
          type: "answer",
          nodeId: this.selfId,
          challenge: this.myChallenge,
          signature,
          admission: side.admission?.(),
          ...(side.joinToken ? { joining: true } : {}),
          ...this.ownRelease(),
        }),
      );
      return;
    }
    if (frame.type === "welcome" && this.theirChallenge && !this.ready && !this.welcomed) {
      const a = this.theirId!;
      if (frame.nodeId !== a) return this.mismatch(a, frame.nodeId);
      if (!verifySignature(a, welcomeText(a, this.selfId, this.theirChallenge, this.myChallenge!, this.binding), frame.signature)) {
        return this.close(
          CLOSE_AUTH_FAILED,
          this.binding ? "bad welcome signature (or not over this TLS channel: a relay?)" : "bad welcome signature",
        );
      }
      if (!this.acceptRelease(a, frame)) return;
      const verdict = side.admitPeer?.(a, frame.credential) ?? { ok: true };
      if (!verdict.ok) return this.close(CLOSE_AUTH_FAILED, verdict.reason);
      this.welcomed = true;
      if (frame.pending) {
        // The key is proven (the welcome verified): only now may the one-time token travel.
        if (!side.joinToken) return this.close(CLOSE_AUTH_FAILED, "not admitted by the peer, and no join token to present");
        this.send(encodeAuth({ type: "token", joinToken: side.joinToken }));
        return;
      }
      return this.connected(side, a, frame.admission);
    }
    if (frame.type === "admitted" && this.welcomed && !this.ready) return this.connected(side, this.theirId!, frame.admission);
    this.close(CLOSE_MALFORMED, `unexpected auth frame ${frame.type}`);
  }

  private connected(side: Extract<Side, { kind: "connect" }>, a: string, admission: Certificate | undefined): void {
    this.peerId = a;
    if (admission && side.onAdmission) {
      if (verifyCertificate(admission, { node: this.selfId, issuer: a, acceptOpen: true })) side.onAdmission(admission);
      else this.hub.log.warn({ peer: this.peerLabel }, "ignoring an admission certificate that does not verify");
    }
    this.becomeReady();
  }

  private ownRelease(): Release {
    const { protocol, min, version } = this.release;
    return { protocol, ...(min !== protocol ? { minProtocol: min } : {}), version };
  }

  /** Record the peer's release; refuse (one line per peer, close 4005) a protocol this release does not speak. */
  private acceptRelease(peer: string, frame: Release): boolean {
    const peerRange = { protocol: frame.protocol, min: frame.minProtocol ?? frame.protocol };
    this.peerRelease = { ...peerRange, ...(frame.version ? { version: frame.version } : {}) };
    this.protocol = commonProtocol(this.release, peerRange);
    if (this.protocol !== undefined) return true;
    const key = `${peer}|${frame.protocol}`;
    if (!refusalsLogged.has(key)) {
      if (refusalsLogged.size >= 1000) refusalsLogged.clear();
      refusalsLogged.add(key);
      this.hub.log.error(
        { peer: peer.slice(0, 12), peerProtocol: frame.protocol, peerVersion: frame.version ?? null },
        incompatibilityMessage(this.release, { ...peerRange, version: frame.version, nodeId: peer }),
      );
    }
    this.close(CLOSE_UNSUPPORTED_PROTOCOL, `unsupported protocol ${frame.protocol}`);
    return false;
  }

  private mismatch(expected: string, actual: string, handover?: Handover): void {
    // The handover (if the peer showed one) is only kept for the client to judge; nothing was sent.
    this.peerMismatch = { expected, actual, ...(handover ? { handover } : {}) };
    this.hub.log.warn({ expected, actual, self: this.selfId }, "another key answered than the node dialled: dropping the link");
    this.close(CLOSE_AUTH_FAILED, `expected node ${expected.slice(0, 12)}, ${actual.slice(0, 12)} answered`);
  }

  private onStatus(linked: boolean): void {
    const wasLinked = this.peerLinked;
    this.peerLinked = linked;
    // The link may have been quiet; now it has to carry updates, so catch up first.
    if (wasLinked && !linked) this.resync();
  }

  /** Status frames go only to authenticated huskies peers; stock clients would not know them. */
  sendStatus(linked: boolean): void {
    if (this.peerId && this.ready) this.send(encodeStatus(linked));
  }

  /** Exchange state vectors again; whatever either side missed is sent. */
  resync(): void {
    if (this.ready) this.send(encodeSyncStep1(this.hub.doc));
  }

  private becomeReady(): void {
    if (this.ready) return;
    this.clock.clearTimeout(this.authTimer);
    this.ready = true;
    this.hub.add(this);
    this.send(encodeSyncStep1(this.hub.doc));
    this.sendStatus(this.hub.selfLinked());
    this.emit("ready");
  }

  sendUpdate(update: Uint8Array): void {
    if (this.ready) this.send(encodeUpdate(update));
  }

  /** Send one frame; to an authenticated huskies peer a frame above the chunk size goes in chunks. */
  send(frame: Uint8Array): void {
    if (this.ws.readyState !== WS_OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) return this.close(CLOSE_TOO_SLOW, "peer too slow");
    if (frame.byteLength <= this.chunkBytes || !this.peerId || !this.ready) return this.ws.send(frame);
    if (frame.byteLength > MAX_REASSEMBLED_BYTES) {
      const fields = { peer: this.peerLabel, bytes: frame.byteLength, max: MAX_REASSEMBLED_BYTES };
      this.hub.log.error(fields, "frame too large to sync even in chunks (the document is too big)");
      return this.close(CLOSE_TOO_BIG, "frame too large to send");
    }
    for (const chunk of splitFrame(frame, this.chunkBytes, this.nextChunkId++)) this.ws.send(chunk);
  }

  close(code: number, reason: string): void {
    if (this.pingTimer === undefined) return;
    this.hub.log.warn({ peer: this.peerLabel, code, reason }, "closing sync connection");
    try {
      if (this.ws.readyState === WS_OPEN || this.ws.readyState === WS_CONNECTING) this.ws.close(code, reason);
    } catch (err) {
      this.hub.log.debug({ peer: this.peerLabel, err: (err as Error).message }, "socket close failed; terminating");
      this.ws.terminate();
    }
    this.teardown(code, reason);
  }

  private teardown(code: number, reason: string): void {
    if (this.pingTimer === undefined) return;
    this.clock.clearInterval(this.pingTimer);
    this.clock.clearTimeout(this.authTimer);
    this.pingTimer = undefined;
    this.ready = false;
    this.hub.remove(this);
    this.emit("closed", code, reason);
  }
}
