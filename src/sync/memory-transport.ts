import { EventEmitter } from "node:events";
import { WS_CLOSED, WS_CLOSING, WS_OPEN, type WebSocketLike } from "./transport.js";

/**
 * Two connected in-memory sockets that behave like a `ws` pair (`opts` limits what the first
 * receives, `optsB` the second): frames arrive in order on a
 * later tick, a frame above the receiver's `maxPayload` closes both ends with 1009, `close`
 * delivers the code and reason to both ends after the frames sent before it, `ping` is
 * answered by a `pong`. Lets the sync protocol run in unit tests without sockets.
 */
export function memoryPair(opts: { maxPayload?: number } = {}, optsB = opts): [MemorySocket, MemorySocket] {
  const a = new MemorySocket(opts.maxPayload ?? Infinity);
  const b = new MemorySocket(optsB.maxPayload ?? Infinity);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export class MemorySocket extends EventEmitter implements WebSocketLike {
  readyState = WS_OPEN;
  readonly bufferedAmount = 0;
  peer: MemorySocket | undefined;
  /** Frames this socket has sent (for tests that count traffic). */
  readonly sent: Uint8Array[] = [];

  constructor(private readonly maxPayload: number) {
    super();
  }

  send(data: Uint8Array): void {
    if (this.readyState !== WS_OPEN) return;
    const copy = new Uint8Array(data);
    this.sent.push(copy);
    const peer = this.peer!;
    setImmediate(() => {
      // Like ws, a frame that left before a close is still delivered to a closing socket.
      if (peer.readyState === WS_CLOSED) return;
      if (copy.byteLength > peer.maxPayload) return peer.closeBoth(1009, "Max payload size exceeded");
      peer.emit("message", copy, true);
    });
  }

  /** A text frame, as a browser could send; only tests use it. */
  sendText(text: string): void {
    const peer = this.peer!;
    setImmediate(() => {
      if (peer.readyState !== WS_CLOSED) peer.emit("message", new Uint8Array(Buffer.from(text)), false);
    });
  }

  close(code = 1005, reason = ""): void {
    if (this.readyState !== WS_OPEN) return;
    this.closeBoth(code, reason);
  }

  terminate(): void {
    if (this.readyState === WS_CLOSED) return;
    this.closeBoth(1006, "");
  }

  /** The pong comes back through the peer, after every frame either side sent before it (as over TCP). */
  ping(): void {
    if (this.readyState !== WS_OPEN) return;
    const peer = this.peer!;
    setImmediate(() => {
      if (peer.readyState !== WS_OPEN) return;
      setImmediate(() => {
        if (this.readyState !== WS_CLOSED) this.emit("pong");
      });
    });
  }

  private closeBoth(code: number, reason: string): void {
    for (const s of [this, this.peer!]) {
      if (s.readyState >= WS_CLOSING) continue;
      s.readyState = WS_CLOSING;
      // After the frames already in flight, like a close frame behind data frames.
      setImmediate(() => {
        s.readyState = WS_CLOSED;
        s.emit("close", code, Buffer.from(reason));
      });
    }
  }
}
