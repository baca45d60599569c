import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import * as syncProtocol from "y-protocols/sync";
import { parseAuthFrame, parseLogFrame, type AuthFrame, type LogFrame } from "./frames.js";

export type { AuthFrame, LogFrame } from "./frames.js";

/**
 * The only file that touches frame bytes. y-websocket framing: a varUint message type, then the
 * payload. Types 0 (sync), 1 (awareness) and 3 (query awareness) are y-websocket's; huskies' own
 * start at 100, outside y-websocket's range, so a stock client ignores them:
 * 100 auth handshake (JSON), 101 link status (JSON `{linked}`), 102 a chunk of a large frame,
 * 103 log relay (JSON).
 */
export const MSG_SYNC = 0;
export const MSG_AWARENESS = 1;
export const MSG_QUERY_AWARENESS = 3;
export const MSG_HUSKIES_AUTH = 100;
export const MSG_STATUS = 101;
export const MSG_CHUNK = 102;
export const MSG_LOG = 103;

export const SYNC_STEP1 = syncProtocol.messageYjsSyncStep1;
export const SYNC_STEP2 = syncProtocol.messageYjsSyncStep2;
export const SYNC_UPDATE = syncProtocol.messageYjsUpdate;

/** Largest header a chunk frame can have (type + three varUints + length), so chunk + header fits a frame. */
export const CHUNK_HEADER_BYTES = 32;

export type Incoming =
  | { kind: "sync-step1"; stateVector: Uint8Array }
  | { kind: "sync-update"; update: Uint8Array; step2: boolean }
  | { kind: "awareness"; update: Uint8Array; clients: number[] }
  | { kind: "query-awareness" }
  | { kind: "auth"; frame: AuthFrame }
  | { kind: "status"; linked: boolean }
  | { kind: "chunk"; id: number; index: number; count: number; data: Uint8Array }
  | { kind: "log"; frame: LogFrame };

export class MalformedFrame extends Error {}

/** Decode one frame completely, validating any Yjs update or awareness state before it is used. */
export function decodeFrame(data: Uint8Array): Incoming {
  try {
    const d = decoding.createDecoder(data);
    const type = decoding.readVarUint(d);
    const out = decodeBody(type, d);
    if (decoding.hasContent(d)) throw new MalformedFrame(`trailing bytes after message type ${type}`);
    return out;
  } catch (err) {
    if (err instanceof MalformedFrame) throw err;
    throw new MalformedFrame((err as Error).message);
  }
}

function decodeBody(type: number, d: decoding.Decoder): Incoming {
  switch (type) {
    case MSG_SYNC: {
      const sub = decoding.readVarUint(d);
      const payload = decoding.readVarUint8Array(d);
      if (sub === SYNC_STEP1) {
        Y.decodeStateVector(payload);
        return { kind: "sync-step1", stateVector: payload };
      }
      if (sub === SYNC_STEP2 || sub === SYNC_UPDATE) {
        // Parse the whole update first: a truncated or garbage update is rejected before it
        // can touch the document.
        Y.decodeUpdate(payload);
        return { kind: "sync-update", update: payload, step2: sub === SYNC_STEP2 };
      }
      throw new MalformedFrame(`unknown sync message ${sub}`);
    }
    case MSG_AWARENESS: {
      const update = decoding.readVarUint8Array(d);
      return { kind: "awareness", update, clients: awarenessClients(update) };
    }
    case MSG_QUERY_AWARENESS:
      return { kind: "query-awareness" };
    case MSG_HUSKIES_AUTH:
      return { kind: "auth", frame: parseAuthFrame(readJson(d, MAX_CONTROL_JSON)) };
    case MSG_STATUS: {
      const v = readJson(d, MAX_CONTROL_JSON) as { linked?: unknown };
      if (!v || typeof v !== "object" || typeof v.linked !== "boolean") throw new MalformedFrame("bad status frame");
      return { kind: "status", linked: v.linked };
    }
    case MSG_CHUNK: {
      const id = decoding.readVarUint(d);
      const index = decoding.readVarUint(d);
      const count = decoding.readVarUint(d);
      const chunk = decoding.readVarUint8Array(d);
      return { kind: "chunk", id, index, count, data: chunk };
    }
    case MSG_LOG:
      return { kind: "log", frame: parseLogFrame(readJson(d)) };
    default:
      throw new MalformedFrame(`unknown message type ${type}`);
  }
}

/**
 * Handshake and status frames are a few hundred bytes of JSON (ids, signatures, a certificate).
 * They arrive before the peer is authenticated, so anything bigger is refused before it is
 * parsed: one unauthenticated 8 MB frame of nested brackets held the event loop for seconds.
 */
export const MAX_CONTROL_JSON = 64 * 1024;

function readJson(d: decoding.Decoder, max = Infinity): unknown {
  let text: string;
  try {
    text = decoding.readVarString(d);
  } catch (err) {
    throw new MalformedFrame(`bad JSON: ${(err as Error).message}`);
  }
  if (text.length > max) throw new MalformedFrame(`control frame of ${text.length} characters is over ${max}`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedFrame(`bad JSON: ${(err as Error).message}`);
  }
}

/** Client ids in an awareness update, checking that every entry (id, clock, JSON state) parses. */
function awarenessClients(update: Uint8Array): number[] {
  const d = decoding.createDecoder(update);
  const n = decoding.readVarUint(d);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(decoding.readVarUint(d));
    decoding.readVarUint(d);
    JSON.parse(decoding.readVarString(d));
  }
  if (decoding.hasContent(d)) throw new MalformedFrame("trailing bytes in awareness update");
  return ids;
}

// Encoding is y-protocols'; decoding (above) is ours only because updates are validated before
// they touch the document, where y-protocols' readSyncMessage applies them straight away.
export function encodeSyncStep1(doc: Y.Doc): Uint8Array {
  return encodeSync((e) => syncProtocol.writeSyncStep1(e, doc));
}

export function encodeSyncStep2(doc: Y.Doc, stateVector: Uint8Array): Uint8Array {
  return encodeSync((e) => syncProtocol.writeSyncStep2(e, doc, stateVector));
}

export function encodeUpdate(update: Uint8Array): Uint8Array {
  return encodeSync((e) => syncProtocol.writeUpdate(e, update));
}

export function encodeAwareness(update: Uint8Array): Uint8Array {
  return encode(MSG_AWARENESS, (e) => encoding.writeVarUint8Array(e, update));
}

export function encodeQueryAwareness(): Uint8Array {
  return encode(MSG_QUERY_AWARENESS, () => {});
}

export function encodeAuth(frame: AuthFrame): Uint8Array {
  return encode(MSG_HUSKIES_AUTH, (e) => encoding.writeVarString(e, JSON.stringify(frame)));
}

export function encodeStatus(linked: boolean): Uint8Array {
  return encode(MSG_STATUS, (e) => encoding.writeVarString(e, JSON.stringify({ linked })));
}

export function encodeChunk(id: number, index: number, count: number, data: Uint8Array): Uint8Array {
  return encode(MSG_CHUNK, (e) => {
    encoding.writeVarUint(e, id);
    encoding.writeVarUint(e, index);
    encoding.writeVarUint(e, count);
    encoding.writeVarUint8Array(e, data);
  });
}

export function encodeLog(frame: LogFrame): Uint8Array {
  return encode(MSG_LOG, (e) => encoding.writeVarString(e, JSON.stringify(frame)));
}

/** The message type of an encoded frame (its first varUint), or -1 if unreadable. */
export function frameType(frame: Uint8Array): number {
  try {
    return decoding.readVarUint(decoding.createDecoder(frame));
  } catch {
    return -1;
  }
}

function encodeSync(write: (e: encoding.Encoder) => void): Uint8Array {
  return encode(MSG_SYNC, write);
}

function encode(type: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  write(e);
  return encoding.toUint8Array(e);
}
