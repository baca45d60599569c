import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type WebSocket from "ws";
import * as Y from "yjs";
import { MAX_BUFFERED_BYTES, AUTH_TIMEOUT_MS } from "../config/defaults.js";
import type { Identity } from "./identity.js";
import {
  challengeText, decodeFrame, encodeAuth, encodeSyncStep1, encodeSyncStep2, encodeUpdate,
  MalformedFrame, type AuthFrame, type Incoming,
} from "./sync-message.js";
import type { SyncHub } from "./sync-hub.js";

export const CLOSE_AUTH_FAILED = 4001;
export const CLOSE_MALFORMED = 4002;
export const CLOSE_TOO_SLOW = 4003;

export type AuthVerdict = { ok: true; peerId?: string } | { ok: false; reason: string };

/** How the accepting side decides; the connecting side only needs an identity. */
export interface Gatekeeper {
  /** Decided at upgrade (open mode, or a valid bearer token): skip the challenge. */
  preAuthorized: boolean;
  verify(challenge: string, answer: Extract<AuthFrame, { type: "answer" }>): AuthVerdict;
}

export type Side =
  | { kind: "accept"; gate: Gatekeeper; selfId: string }
  /** `upstream`: this is the link to the rendezvous (always carries everything). */
  | { kind: "connect"; identity: Identity; joinToken?: string; upstream?: boolean };

/**
 * One sync link over one WebSocket, either side. Authentication comes first; after it each
 * side sends sync step 1, answers the other's step 1 with step 2, and then streams updates.
 * Any frame that fails to decode closes this link only.
 */
export class SyncConnection extends EventEmitter<{ ready: []; synced: []; closed: [code: number, reason: string] }> {
  ready = false;
  synced = false;
  peerId: string | undefined;
  /** The peer's last reported rendezvous link (see the hub's relay rule). */
  peerLinked = false;
  /** Status frames go only to peers known to be huskies nodes: connectors, and acceptors that sent one. */
  private speaksStatus: boolean;
  private challenge: string | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private alive = true;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(readonly ws: WebSocket, readonly hub: SyncHub, private readonly side: Side, pingMs = 30_000) {
    super();
    this.speaksStatus = side.kind === "connect";
    ws.binaryType = "nodebuffer";
    ws.on("message", (data, isBinary) => this.receive(data as Buffer, isBinary));
    ws.on("close", (code, reason) => this.teardown(code, reason.toString()));
    // ws closes oversized frames itself (1009) and reports why here; 'close' follows.
    ws.on("error", (err) => this.hub.log.warn({ peer: this.peerId?.slice(0, 12), reason: err.message }, "closing sync connection"));
    ws.on("pong", () => { this.alive = true; });
    this.pingTimer = setInterval(() => {
      if (!this.alive) return ws.terminate();
      this.alive = false;
      ws.ping();
    }, pingMs).unref();
    if (side.kind === "accept") this.startAccepting(side);
  }

  private startAccepting(side: Extract<Side, { kind: "accept" }>): void {
    if (side.gate.preAuthorized) return this.becomeReady();
    this.challenge = randomBytes(32).toString("hex");
    this.send(encodeAuth({ type: "challenge", challenge: this.challenge, nodeId: side.selfId }));
    this.authTimer = setTimeout(() => this.close(CLOSE_AUTH_FAILED, "no answer to the challenge"), AUTH_TIMEOUT_MS).unref();
  }

  private receive(data: Buffer, isBinary: boolean): void {
    let msg: Incoming;
    try {
      if (!isBinary) throw new MalformedFrame("text frame");
      msg = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (err) {
      return this.close(CLOSE_MALFORMED, `malformed frame: ${(err as Error).message}`.slice(0, 120));
    }
    if (msg.kind === "auth") return this.onAuth(msg.frame);
    if (!this.ready) {
      // A connector talking to an open server gets sync step 1 straight away: that is the welcome.
      if (this.side.kind === "connect") this.becomeReady();
      else return this.close(CLOSE_AUTH_FAILED, "sync before authentication");
    }
    switch (msg.kind) {
      case "sync-step1":
        this.send(encodeSyncStep2(this.hub.doc, msg.stateVector));
        break;
      case "sync-update":
        try {
          Y.applyUpdate(this.hub.doc, msg.update, this);
        } catch (err) {
          return this.close(CLOSE_MALFORMED, `update rejected: ${(err as Error).message}`.slice(0, 120));
        }
        if (msg.step2 && !this.synced) {
          this.synced = true;
          this.emit("synced");
        }
        break;
      case "awareness":
        this.hub.relayRaw(msg.raw, this);
        break;
      case "query-awareness":
        break;
    }
  }

  get upstream(): boolean {
    return this.side.kind === "connect" && !!this.side.upstream;
  }

  private onAuth(frame: AuthFrame): void {
    if (frame.type === "status") return this.onStatus(frame.linked === true);
    const side = this.side;
    if (side.kind === "connect") {
      if (frame.type === "challenge" && !this.ready) {
        this.peerId = frame.nodeId;
        const signature = side.identity.sign(challengeText(frame.challenge));
        this.send(encodeAuth({ type: "answer", nodeId: side.identity.nodeId, signature, joinToken: side.joinToken }));
      } else if (frame.type === "welcome" && !this.ready) {
        this.peerId = frame.nodeId;
        this.becomeReady();
      } else {
        this.close(CLOSE_MALFORMED, `unexpected auth frame ${frame.type}`);
      }
      return;
    }
    if (frame.type !== "answer" || !this.challenge || this.ready) return this.close(CLOSE_MALFORMED, `unexpected auth frame ${frame.type}`);
    const verdict = side.gate.verify(this.challenge, frame);
    if (!verdict.ok) return this.close(CLOSE_AUTH_FAILED, verdict.reason);
    clearTimeout(this.authTimer);
    this.peerId = verdict.peerId;
    this.send(encodeAuth({ type: "welcome", nodeId: side.selfId }));
    this.becomeReady();
  }

  private onStatus(linked: boolean): void {
    if (!this.ready) return this.close(CLOSE_MALFORMED, "status before authentication");
    const answer = !this.speaksStatus;
    this.speaksStatus = true;
    const wasLinked = this.peerLinked;
    this.peerLinked = linked;
    if (answer) this.sendStatus(this.hub.selfLinked());
    // The link may have been quiet; now it has to carry updates, so catch up first.
    if (wasLinked && !linked) this.resync();
  }

  sendStatus(linked: boolean): void {
    if (this.speaksStatus && this.ready) this.send(encodeAuth({ type: "status", linked }));
  }

  /** Exchange state vectors again; whatever either side missed is sent. */
  resync(): void {
    if (this.ready) this.send(encodeSyncStep1(this.hub.doc));
  }

  private becomeReady(): void {
    if (this.ready) return;
    this.ready = true;
    this.hub.add(this);
    this.send(encodeSyncStep1(this.hub.doc));
    this.sendStatus(this.hub.selfLinked());
    this.emit("ready");
  }

  sendUpdate(update: Uint8Array): void {
    if (this.ready) this.send(encodeUpdate(update));
  }

  send(frame: Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) return this.close(CLOSE_TOO_SLOW, "peer too slow");
    this.ws.send(frame);
  }

  close(code: number, reason: string): void {
    this.hub.log.warn({ peer: this.peerId?.slice(0, 12), code, reason }, "closing sync connection");
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.teardown(code, reason);
  }

  private teardown(code: number, reason: string): void {
    if (this.pingTimer === undefined) return;
    clearInterval(this.pingTimer);
    clearTimeout(this.authTimer);
    this.pingTimer = undefined;
    this.ready = false;
    this.hub.remove(this);
    this.emit("closed", code, reason);
  }
}
