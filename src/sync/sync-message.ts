import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import * as syncProtocol from "y-protocols/sync";

/**
 * The only file that touches frame bytes. y-websocket framing: a varUint message type, then the
 * payload. Types 0 (sync) and 1 (awareness) are y-websocket's; 100 is huskies' auth handshake,
 * chosen outside y-websocket's range so a stock client just ignores it.
 */
export const MSG_SYNC = 0;
export const MSG_AWARENESS = 1;
export const MSG_QUERY_AWARENESS = 3;
export const MSG_HUSKIES_AUTH = 100;

export const SYNC_STEP1 = syncProtocol.messageYjsSyncStep1;
export const SYNC_STEP2 = syncProtocol.messageYjsSyncStep2;
export const SYNC_UPDATE = syncProtocol.messageYjsUpdate;

export type AuthFrame =
  | { type: "challenge"; challenge: string; nodeId: string }
  | { type: "answer"; nodeId: string; signature: string; joinToken?: string }
  | { type: "welcome"; nodeId: string }
  /** Whether the sender has a live link to the rendezvous (lets two linked agents keep their mesh link quiet). */
  | { type: "status"; linked: boolean };

export type Incoming =
  | { kind: "sync-step1"; stateVector: Uint8Array }
  | { kind: "sync-update"; update: Uint8Array; step2: boolean }
  | { kind: "awareness"; raw: Uint8Array }
  | { kind: "query-awareness" }
  | { kind: "auth"; frame: AuthFrame };

export class MalformedFrame extends Error {}

/** Decode one frame completely, validating any Yjs update before it is applied. */
export function decodeFrame(data: Uint8Array): Incoming {
  try {
    const d = decoding.createDecoder(data);
    const type = decoding.readVarUint(d);
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
      case MSG_AWARENESS:
        decoding.readVarUint8Array(d);
        return { kind: "awareness", raw: data };
      case MSG_QUERY_AWARENESS:
        return { kind: "query-awareness" };
      case MSG_HUSKIES_AUTH: {
        const frame = JSON.parse(decoding.readVarString(d)) as AuthFrame;
        if (!frame || typeof frame !== "object" || typeof frame.type !== "string") throw new MalformedFrame("bad auth frame");
        return { kind: "auth", frame };
      }
      default:
        throw new MalformedFrame(`unknown message type ${type}`);
    }
  } catch (err) {
    if (err instanceof MalformedFrame) throw err;
    throw new MalformedFrame((err as Error).message);
  }
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

export function encodeAuth(frame: AuthFrame): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MSG_HUSKIES_AUTH);
  encoding.writeVarString(e, JSON.stringify(frame));
  return encoding.toUint8Array(e);
}

function encodeSync(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MSG_SYNC);
  write(e);
  return encoding.toUint8Array(e);
}

/** The text both sides sign; the prefix keeps a challenge signature from meaning anything else. */
export function challengeText(challenge: string): string {
  return `huskies-sync-v1:${challenge}`;
}
