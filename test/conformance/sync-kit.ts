import { Writable } from "node:stream";
import pino from "pino";
import * as Y from "yjs";
import { createSyncPolicy, type SyncPolicy } from "../../src/trust/auth-policy.js";
import { ephemeralIdentity, type Identity } from "../../src/trust/identity.js";
import { SyncConnection, type OwnRelease, type Side } from "../../src/sync/sync-connection.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { decodeFrame, frameType, type Incoming } from "../../src/sync/sync-message.js";
import { frameBytes, type RawFrame, type WebSocketLike } from "../../src/sync/transport.js";
import type { Certificate } from "../../src/trust/admission.js";

/** A connected socket pair: `connector` dialled `acceptor`. Both are open. */
export interface TransportPair {
  acceptor: WebSocketLike;
  connector: WebSocketLike;
}

/** What a transport provides to the suite. */
export interface SyncTransportSetup {
  name: string;
  /**
   * A fresh connected pair; the acceptor closes frames above `maxFrameBytes` with 1009, the
   * connector those above `connectorMaxFrameBytes` (default the same).
   */
  pair(opts: { maxFrameBytes: number; connectorMaxFrameBytes?: number }): Promise<TransportPair>;
  teardown(): Promise<void>;
}

export interface LogLine {
  msg?: string;
  reason?: string;
  [k: string]: unknown;
}

/** One in-process node: identity, document, hub, policy, captured log lines. */
export interface TestNode {
  identity: Identity;
  doc: Y.Doc;
  hub: SyncHub;
  policy: SyncPolicy;
  logs: LogLine[];
}

export function makeNode(
  opts: {
    role?: "rendezvous" | "agent";
    open?: boolean;
    trusted?: string[];
    rendezvousKey?: string;
    admission?: Certificate;
    adminToken?: string;
  } = {},
): TestNode {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const identity = ephemeralIdentity();
  const doc = new Y.Doc();
  const hub = new SyncHub(doc, pino({ level: "debug" }, sink));
  const policy = createSyncPolicy({
    role: opts.role ?? "rendezvous",
    identity,
    open: opts.open ?? false,
    doc,
    adminToken: opts.adminToken,
    trustedKeys: () => opts.trusted ?? [],
    rendezvousKey: opts.rendezvousKey,
    admission: opts.admission,
  });
  return { identity, doc, hub, policy, logs };
}

export type ConnectSide = Omit<Extract<Side, { kind: "connect" }>, "kind" | "identity">;

/** Run a SyncConnection on each end of a fresh pair. The connector is built first so it hears the challenge. */
export async function link(
  setup: SyncTransportSetup,
  acc: TestNode,
  con: TestNode,
  opts: {
    maxFrameBytes?: number;
    side?: ConnectSide;
    bearer?: string;
    /** Play another release on either end (default: this build's). */
    release?: { acceptor?: OwnRelease; connector?: OwnRelease };
  } = {},
) {
  const maxFrameBytes = opts.maxFrameBytes ?? 1024 * 1024;
  const pair = await setup.pair({ maxFrameBytes });
  const c = new SyncConnection(
    pair.connector,
    con.hub,
    { kind: "connect", identity: con.identity, ...opts.side },
    { maxFrameBytes, release: opts.release?.connector },
  );
  const a = new SyncConnection(
    pair.acceptor,
    acc.hub,
    { kind: "accept", gate: acc.policy.gate(opts.bearer ?? null), identity: acc.identity },
    { maxFrameBytes, release: opts.release?.acceptor },
  );
  return { a, c, pair };
}

/** Only the acceptor runs huskies; the connector socket is driven by the test (a stock or hostile client). */
export async function rawLink(
  setup: SyncTransportSetup,
  acc: TestNode,
  opts: { maxFrameBytes?: number; bearer?: string; clientMaxFrameBytes?: number } = {},
) {
  const maxFrameBytes = opts.maxFrameBytes ?? 1024 * 1024;
  const pair = await setup.pair({ maxFrameBytes, connectorMaxFrameBytes: opts.clientMaxFrameBytes });
  const raw = new RawClient(pair.connector);
  const a = new SyncConnection(
    pair.acceptor,
    acc.hub,
    { kind: "accept", gate: acc.policy.gate(opts.bearer ?? null), identity: acc.identity },
    { maxFrameBytes },
  );
  return { a, raw };
}

/** Records what a socket receives and how it closes. */
export class RawClient {
  readonly frames: Uint8Array[] = [];
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocketLike) {
    ws.on("message", (data: RawFrame) => this.frames.push(new Uint8Array(frameBytes(data))));
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
    ws.on("error", () => {});
  }

  ofType(type: number): Uint8Array[] {
    return this.frames.filter((f) => frameType(f) === type);
  }

  decoded(): Incoming[] {
    return this.frames.map((f) => decodeFrame(f));
  }
}

/**
 * Resolves when a ping sent on `ws` comes back: every frame sent on the link before it has been
 * processed by the peer, and every frame the peer sent before that has arrived here.
 */
export function roundTrip(ws: WebSocketLike): Promise<void> {
  return new Promise((resolve) => {
    ws.on("pong", () => resolve());
    ws.ping();
  });
}

export function until<T extends unknown[]>(conn: SyncConnection, event: "ready" | "closed" | "synced"): Promise<T> {
  return new Promise((resolve) => conn.once(event, (...args: unknown[]) => resolve(args as T)));
}

export function closedCode(conn: SyncConnection): Promise<number> {
  return new Promise((resolve) => conn.once("closed", (code) => resolve(code)));
}

export function items(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap("items");
}
