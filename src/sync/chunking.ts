import { encodeChunk, MalformedFrame } from "./sync-message.js";

/**
 * Large frames between huskies nodes travel as type-102 chunks: `(id, index, count, bytes)`,
 * sent back to back on one link, so a receiver sees one message's chunks in order or the link
 * is broken. Stock clients never get chunks (they could not reassemble them).
 */
export function splitFrame(frame: Uint8Array, chunkBytes: number, id: number): Uint8Array[] {
  const count = Math.ceil(frame.byteLength / chunkBytes);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(encodeChunk(id, i, count, frame.subarray(i * chunkBytes, (i + 1) * chunkBytes)));
  return out;
}

/**
 * Reassembles chunks. Any deviation (a chunk of another message before this one is complete, an
 * index out of order, a count that changes, an empty part, a total above `maxBytes`) throws
 * `MalformedFrame`: the link is closed with 4002.
 */
export class Reassembler {
  private current: { id: number; count: number; parts: Uint8Array[]; bytes: number } | undefined;

  constructor(private readonly maxBytes: number) {}

  /** Returns the whole frame when `chunk` completes it. */
  push(chunk: { id: number; index: number; count: number; data: Uint8Array }): Uint8Array | undefined {
    const { id, index, count, data } = chunk;
    if (count < 2) throw new MalformedFrame(`chunked message ${id} has ${count} part(s)`);
    if (data.byteLength === 0) throw new MalformedFrame(`empty chunk ${index} of message ${id}`);
    if (index === 0) {
      if (this.current) throw new MalformedFrame(`message ${id} started before message ${this.current.id} was complete`);
      this.current = { id, count, parts: [], bytes: 0 };
    }
    const cur = this.current;
    if (!cur) throw new MalformedFrame(`chunk ${index} of message ${id} without its start`);
    if (cur.id !== id || cur.count !== count || cur.parts.length !== index) {
      throw new MalformedFrame(`chunk ${index}/${count} of message ${id} out of sequence`);
    }
    cur.bytes += data.byteLength;
    if (cur.bytes > this.maxBytes) throw new MalformedFrame(`chunked message ${id} exceeds ${this.maxBytes} bytes`);
    cur.parts.push(data);
    if (cur.parts.length < count) return undefined;
    this.current = undefined;
    const whole = new Uint8Array(cur.bytes);
    let at = 0;
    for (const p of cur.parts) {
      whole.set(p, at);
      at += p.byteLength;
    }
    return whole;
  }
}
