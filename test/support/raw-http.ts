import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import WebSocket from "ws";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = { error?: string }>(): T;
}

/**
 * An HTTP request with full control of the headers (`Host`, `Origin`) and the body, as a browser
 * or an attacker would send it; fetch() cannot set Host. `body` may be an async iterable, sent
 * chunked. The answer may come before the body is sent whole (a 413): that is what it checks.
 * One connection per request: a connection left mid-body must not be reused for the next one.
 */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: string | Buffer | AsyncIterable<Buffer> } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  const send = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: opts.method ?? "GET",
        headers: opts.headers,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on("error", reject);
      },
    );
    // The server may answer and close while we are still sending: the answer is what counts.
    req.on("error", (err) => (req.destroyed && (err as NodeJS.ErrnoException).code === "EPIPE" ? undefined : reject(err)));
    const body = opts.body;
    if (body === undefined || typeof body === "string" || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    void (async () => {
      try {
        for await (const chunk of body) {
          if (req.destroyed) return;
          if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
        }
        req.end();
      } catch {
        /* the server closed the connection mid-body */
      }
    })();
  });
}

/** Try a WebSocket upgrade with given headers: "open", or the HTTP status of the refusal. */
export function tryUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ outcome: "open"; ws: WebSocket } | { outcome: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, rejectUnauthorized: false });
    ws.once("open", () => resolve({ outcome: "open", ws }));
    ws.once("unexpected-response", (_req, res) => {
      resolve({ outcome: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once("error", (err) => reject(err));
  });
}
