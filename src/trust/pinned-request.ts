import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { normalizeFingerprint, peerFingerprint } from "./tls-pin.js";

export interface PinnedRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON (content-type set). */
  body?: unknown;
  /**
   * SHA-256 of the server's certificate (https only). The certificate is then accepted only if
   * it matches (a self-signed one works), and it is checked before a byte of the request (its
   * bearer token) is sent. Without it, https is checked against the system's CAs as usual.
   */
  fingerprint?: string;
  timeoutMs?: number;
  /**
   * Stream the answer (a log followed over server-sent events): each chunk goes here as it
   * arrives, none is kept, and silence never times the request out once it is answered.
   */
  onChunk?: (chunk: Buffer) => void;
}

export interface PinnedResponse<T = unknown> {
  status: number;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: T;
  text: string;
  /** Fingerprint of the certificate the server showed (https), normalized. */
  fingerprint?: string;
}

/** The server showed another certificate than the pinned one. */
export class PinMismatchError extends Error {}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * One HTTP(S) request with a JSON body and answer, for huskies' own clients (CLI, gateway,
 * joining agent). Unlike fetch it can pin a self-signed certificate by fingerprint.
 */
export async function pinnedRequest<T = unknown>(url: string, o: PinnedRequestOptions = {}): Promise<PinnedResponse<T>> {
  const u = new URL(url);
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (o.fingerprint && u.protocol !== "https:")
    throw new PinMismatchError(`a pinned certificate needs an https:// URL, not ${u.protocol}//`);
  const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  // Content-Length always: Node sends a DELETE body without it (nor chunked), which a server reads as a second request.
  const headers: Record<string, string> = {
    ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
    ...o.headers,
  };
  const target = {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port || (u.protocol === "https:" ? 443 : 80),
    path: `${u.pathname}${u.search}`,
  };
  const started = performance.now();
  const socket = o.fingerprint ? await pinnedTls(target.host, Number(target.port), o.fingerprint, timeoutMs) : undefined;
  return new Promise((resolveOnce, rejectOnce) => {
    // The whole exchange has one deadline (docs/architecture.md, "Faults": every wait is bounded):
    // an idle timeout alone never fires for a server that answers a byte at a time.
    let settled = false;
    const finish = () => {
      settled = true;
      clearTimeout(deadline);
    };
    const resolve = (r: PinnedResponse<T>) => (settled ? undefined : (finish(), resolveOnce(r)));
    const reject = (e: unknown) => (settled ? undefined : (finish(), rejectOnce(e)));
    const deadline = setTimeout(
      () => req.destroy(new Error(`no complete answer from ${u.origin} within ${timeoutMs} ms`)),
      Math.max(0, timeoutMs - (performance.now() - started)),
    );
    const send = socket ? httpRequest : u.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      {
        ...target,
        method: o.method ?? (payload ? "POST" : "GET"),
        headers: { ...headers, host: u.host },
        // With a ready socket there must be no agent (an agent would open its own connection).
        ...(socket ? { createConnection: () => socket } : { agent: false }),
      },
      (res) => void collect(res).then(resolve, reject),
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${u.origin} within ${timeoutMs} ms`)));
    // A stream (a log follow) is bounded up to its headers; then it lasts as long as the server sends.
    if (o.onChunk)
      req.on("response", () => {
        req.setTimeout(0);
        clearTimeout(deadline);
      });
    req.on("error", reject);
    req.end(payload);
    function collect(res: IncomingMessage): Promise<PinnedResponse<T>> {
      return new Promise((done, fail) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (o.onChunk && (res.statusCode ?? 0) < 300) return o.onChunk(c);
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) res.destroy(new Error(`answer from ${u.origin} is larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on("error", fail);
        res.on("close", () => {
          if (!res.complete) fail(new Error(`the answer from ${u.origin} was cut off`));
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          if ((res.headers["content-type"] ?? "").includes("json")) {
            try {
              body = JSON.parse(text);
            } catch {
              /* leave the text: the caller reports the status */
            }
          }
          done({ status: res.statusCode ?? 0, body: body as T, text, fingerprint: peerFingerprint(res.socket) });
        });
      });
    }
  });
}

/** A TLS connection whose certificate matches `fingerprint`; nothing has been sent on it yet. */
function pinnedTls(host: string, port: number, fingerprint: string, timeoutMs: number): Promise<TLSSocket> {
  const want = normalizeFingerprint(fingerprint);
  return new Promise((resolve, reject) => {
    // CA validation is replaced by the fingerprint check (a self-signed certificate is the point).
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS answer from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const got = peerFingerprint(socket);
      if (got === want) return resolve(socket);
      socket.destroy();
      reject(new PinMismatchError(`the certificate of ${host}:${port} has fingerprint ${got ?? "(none)"}, not the pinned ${want}`));
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
