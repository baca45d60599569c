import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { SyncConnection, CLOSE_AUTH_FAILED } from "../../src/sync/sync-connection.js";
import { memoryPair } from "../../src/sync/memory-transport.js";
import { WS_CLOSED, WS_CONNECTING, WS_OPEN, type WebSocketLike } from "../../src/sync/transport.js";
import { makeNode } from "../conformance/sync-kit.js";
import { ManualClock } from "../support/manual-clock.js";
import { waitFor } from "../support/wait-for.js";

/** A socket whose server accepted TCP and never answers the upgrade: it stays CONNECTING, and ping throws as ws does. */
class HungSocket extends EventEmitter implements WebSocketLike {
  readyState = WS_CONNECTING;
  bufferedAmount = 0;
  pings = 0;
  send(): void {
    throw new Error("WebSocket is not open: readyState 0 (CONNECTING)");
  }
  ping(): void {
    if (this.readyState !== WS_OPEN) throw new Error("WebSocket is not open: readyState 0 (CONNECTING)");
    this.pings += 1;
  }
  close(code = 1005, reason = ""): void {
    if (this.readyState === WS_CLOSED) return;
    this.readyState = WS_CLOSED;
    this.emit("close", code, Buffer.from(reason));
  }
  terminate(): void {
    this.close(1006);
  }
}

describe("every wait of a sync link is bounded (rule 1)", () => {
  it("never pings a socket that is still connecting; the handshake deadline closes it as a link, not an exception", () => {
    const clock = new ManualClock();
    const node = makeNode();
    const ws = new HungSocket();
    const link = new SyncConnection(
      ws,
      node.hub,
      { kind: "connect", identity: node.identity },
      { maxFrameBytes: 1 << 20, pingMs: 1000, handshakeMs: 10_000, clock },
    );
    const closed: Array<[number, string]> = [];
    link.on("closed", (code, reason) => closed.push([code, reason]));
    // Ten ping intervals pass while connecting: before the fix the first one threw from a timer.
    expect(() => clock.advance(9_999)).not.toThrow();
    expect(closed).toEqual([]);
    clock.advance(1);
    expect(closed).toEqual([[CLOSE_AUTH_FAILED, "no welcome from the peer"]]);
    expect(ws.readyState).toBe(WS_CLOSED);
    expect(() => clock.advance(60_000)).not.toThrow();
    expect(closed).toHaveLength(1);
  });

  it("closes a ready link whose peer stops answering pings after two intervals", async () => {
    const clock = new ManualClock();
    const acc = makeNode({ open: true });
    const con = makeNode();
    const [connector, acceptor] = memoryPair();
    const c = new SyncConnection(
      connector,
      con.hub,
      { kind: "connect", identity: con.identity },
      { maxFrameBytes: 1 << 20, pingMs: 1000, clock },
    );
    new SyncConnection(
      acceptor,
      acc.hub,
      { kind: "accept", gate: acc.policy.gate(null), identity: acc.identity },
      { maxFrameBytes: 1 << 20, clock },
    );
    await waitFor(() => c.ready, "the handshake");
    const closed: number[] = [];
    c.on("closed", (code) => closed.push(code));
    // A frozen peer: its kernel keeps the socket open, nothing answers.
    connector.ping = () => undefined;
    clock.advance(1000);
    expect(closed).toEqual([]);
    clock.advance(1000);
    expect(closed).toEqual([1006]);
    expect(c.ready).toBe(false);
  });

  it("a ping that throws (a socket closing under it) closes the link instead of the process", async () => {
    const clock = new ManualClock();
    const acc = makeNode({ open: true });
    const con = makeNode();
    const [connector, acceptor] = memoryPair();
    const c = new SyncConnection(
      connector,
      con.hub,
      { kind: "connect", identity: con.identity },
      { maxFrameBytes: 1 << 20, pingMs: 1000, clock },
    );
    new SyncConnection(
      acceptor,
      acc.hub,
      { kind: "accept", gate: acc.policy.gate(null), identity: acc.identity },
      { maxFrameBytes: 1 << 20, clock },
    );
    await waitFor(() => c.ready, "the handshake");
    connector.ping = () => {
      throw new Error("socket hang up");
    };
    const closed: number[] = [];
    c.on("closed", (code) => closed.push(code));
    expect(() => clock.advance(1000)).not.toThrow();
    expect(closed).toEqual([1006]);
  });
});
