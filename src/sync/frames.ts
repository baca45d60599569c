import { isCertificateShape, type Certificate } from "../trust/admission.js";
import { UNVERSIONED_PROTOCOL } from "../pipeline/compatibility.js";
import type { Handover } from "../trust/operator-keys.js";

/**
 * The JSON frames huskies adds to y-websocket framing, and their validation: a frame with a
 * missing or mistyped field is malformed (the link is closed with 4002), never half-used.
 */

/**
 * What every handshake frame says of its sender's release: `protocol` decides whether two nodes
 * work together (src/pipeline/compatibility.ts); `version` is the huskies release, for people.
 * Both are additive: a frame without them comes from a release before versioning (protocol 1).
 */
export interface Release {
  protocol: number;
  /** The oldest protocol the sender still speaks (absent: only `protocol`). */
  minProtocol?: number;
  version?: string;
}

/** Auth handshake v2 (message type 100). See `handshake.ts` for what is signed. */
export type AuthFrame =
  /**
   * acceptor → connector, always the first frame (also in open mode). `handover` (additive, issue
   * 32): a recovered rendezvous shows the operator-signed record that vouches for its new key.
   */
  | ({ type: "challenge"; v: 2; nodeId: string; challenge: string; handover?: Handover } & Release)
  /** connector → acceptor. `admission` is the connector's own certificate from the rendezvous. */
  | ({
      type: "answer";
      nodeId: string;
      challenge: string;
      signature: string;
      /** Before protocol 3 the token travelled here, ahead of any proof; it is never used now. */
      joinToken?: string;
      /** Protocol 3: the connector has a join token to present once the acceptor proved its key. */
      joining?: boolean;
      admission?: Certificate;
    } & Release)
  /**
   * acceptor → connector. `admission` is a certificate for the connector, issued when the
   * acceptor is a rendezvous that admitted it; `credential` is the acceptor's own certificate,
   * so a connector that dialled it (mesh) can check it was admitted too.
   */
  | ({
      type: "welcome";
      nodeId: string;
      signature: string;
      admission?: Certificate;
      credential?: Certificate;
      /**
       * Protocol 3: the acceptor proved its key but has not admitted the connector; a connector
       * with a join token sends it now (`token`), after checking who it is talking to.
       */
      pending?: boolean;
    } & Release)
  /** Protocol 3, connector → acceptor, only after a `pending` welcome verified: the one-time join token. */
  | { type: "token"; joinToken: string }
  /** Protocol 3, acceptor → connector: the token admitted it; `admission` is its certificate. */
  | { type: "admitted"; admission?: Certificate };

/** Log relay (message type 103). `rid` is chosen by the requester and unique per link. */
export type LogFrame =
  | { type: "log-request"; rid: number; story: string; follow: boolean }
  | { type: "log-data"; rid: number; lines: string[]; end?: boolean; error?: string }
  | { type: "log-cancel"; rid: number };

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const MAX_TOKEN_CHARS = 512;
const MAX_STORY_CHARS = 100;
const MAX_ERROR_CHARS = 500;
const RELEASE = /^[0-9A-Za-z.+-]{1,40}$/;

class BadFrame extends Error {}

function fail(what: string): never {
  throw new BadFrame(what);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function hex(v: unknown, re: RegExp, what: string): string {
  if (typeof v !== "string" || !re.test(v)) fail(`bad ${what}`);
  return v;
}

function optCert(v: unknown, what: string): Certificate | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isCertificateShape(v)) fail(`bad ${what}`);
  return v;
}

/** A malformed handover is dropped, not fatal: the link then works (or is refused) as without one. */
function optHandover(v: unknown): { handover?: Handover } {
  const h = v as Partial<Handover> | null | undefined;
  if (!h || typeof h !== "object") return {};
  if (typeof h.operator !== "string" || !HEX64.test(h.operator)) return {};
  if (typeof h.newKey !== "string" || !HEX64.test(h.newKey)) return {};
  if (typeof h.at !== "number" || !Number.isSafeInteger(h.at)) return {};
  if (typeof h.sig !== "string" || !HEX128.test(h.sig)) return {};
  return { handover: { operator: h.operator, newKey: h.newKey, at: h.at, sig: h.sig } };
}

function release(f: Record<string, unknown>): Release {
  const protocol = f.protocol ?? UNVERSIONED_PROTOCOL;
  if (typeof protocol !== "number" || !Number.isSafeInteger(protocol) || protocol < 1) fail("bad protocol");
  const min = f.minProtocol ?? protocol;
  if (typeof min !== "number" || !Number.isSafeInteger(min) || min < 1 || min > protocol) fail("bad minProtocol");
  if (f.version !== undefined && (typeof f.version !== "string" || !RELEASE.test(f.version))) fail("bad version");
  return {
    protocol,
    ...(min !== protocol ? { minProtocol: min } : {}),
    ...(f.version !== undefined ? { version: f.version as string } : {}),
  };
}

export function parseAuthFrame(raw: unknown): AuthFrame {
  const f = obj(raw, "auth frame");
  switch (f.type) {
    case "challenge":
      if (f.v !== 2) fail(`unsupported handshake version ${String(f.v)}`);
      return {
        type: "challenge",
        v: 2,
        nodeId: hex(f.nodeId, HEX64, "nodeId"),
        challenge: hex(f.challenge, HEX64, "challenge"),
        ...optHandover(f.handover),
        ...release(f),
      };
    case "answer": {
      if (f.joinToken !== undefined && f.joinToken !== null && (typeof f.joinToken !== "string" || f.joinToken.length > MAX_TOKEN_CHARS))
        fail("bad joinToken");
      return {
        type: "answer",
        nodeId: hex(f.nodeId, HEX64, "nodeId"),
        challenge: hex(f.challenge, HEX64, "challenge"),
        signature: hex(f.signature, HEX128, "signature"),
        joinToken: (f.joinToken as string | null) ?? undefined,
        ...(f.joining === true ? { joining: true } : {}),
        admission: optCert(f.admission, "admission"),
        ...release(f),
      };
    }
    case "welcome":
      return {
        type: "welcome",
        nodeId: hex(f.nodeId, HEX64, "nodeId"),
        signature: hex(f.signature, HEX128, "signature"),
        admission: optCert(f.admission, "admission"),
        credential: optCert(f.credential, "credential"),
        ...(f.pending === true ? { pending: true } : {}),
        ...release(f),
      };
    case "token":
      if (typeof f.joinToken !== "string" || f.joinToken.length === 0 || f.joinToken.length > MAX_TOKEN_CHARS) fail("bad joinToken");
      return { type: "token", joinToken: f.joinToken };
    case "admitted":
      return { type: "admitted", admission: optCert(f.admission, "admission") };
    default:
      return fail(`unknown auth frame ${String(f.type).slice(0, 40)}`);
  }
}

function rid(v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail("bad rid");
  return v;
}

export function parseLogFrame(raw: unknown): LogFrame {
  const f = obj(raw, "log frame");
  switch (f.type) {
    case "log-request":
      if (typeof f.story !== "string" || f.story.length > MAX_STORY_CHARS) fail("bad story");
      return { type: "log-request", rid: rid(f.rid), story: f.story, follow: f.follow === true };
    case "log-data": {
      if (!Array.isArray(f.lines) || !f.lines.every((l) => typeof l === "string")) fail("bad lines");
      if (f.error !== undefined && typeof f.error !== "string") fail("bad error");
      const out: LogFrame = { type: "log-data", rid: rid(f.rid), lines: f.lines as string[] };
      if (f.end === true) out.end = true;
      if (typeof f.error === "string") out.error = f.error.slice(0, MAX_ERROR_CHARS);
      return out;
    }
    case "log-cancel":
      return { type: "log-cancel", rid: rid(f.rid) };
    default:
      return fail(`unknown log frame ${String(f.type).slice(0, 40)}`);
  }
}
