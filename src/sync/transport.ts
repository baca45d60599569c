/**
 * The socket a `SyncConnection` runs over: the subset of `ws`'s WebSocket it uses, so a real
 * `ws` socket fits as is and `memory-transport.ts` can stand in for it in-process.
 * Semantics follow ws: `close(code)` is seen as `close` with that code on both ends; a frame
 * above the receiver's limit closes the link with 1009; `terminate()` closes with 1006.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (WebSocket's numbering). */
  readonly readyState: number;
  /** Bytes queued for sending and not yet written. */
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(): void;
  on(event: "message", listener: (data: RawFrame, isBinary: boolean) => void): unknown;
  on(event: "close", listener: (code: number, reason: Buffer | string) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "pong", listener: () => void): unknown;
}

/** What a socket delivers: ws gives a Buffer (binaryType "nodebuffer"), the memory pair a Uint8Array. */
export type RawFrame = Uint8Array | ArrayBuffer | Buffer[];

export const WS_CONNECTING = 0;
export const WS_OPEN = 1;
export const WS_CLOSING = 2;
export const WS_CLOSED = 3;

/** A frame as one contiguous byte array. */
export function frameBytes(data: RawFrame): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
