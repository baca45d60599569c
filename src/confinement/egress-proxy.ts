import { lookup } from "node:dns/promises";
import { createServer, connect, isIP, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { chmodSync, rmSync } from "node:fs";
import type { Logger } from "pino";
import { egressVerdict, type EgressRule } from "../pipeline/egress-rules.js";

/** A request head larger than this is refused (no legitimate proxy request comes close). */
const MAX_HEAD_BYTES = 16 * 1024;
/** A client that has not finished its request head in this long is dropped. */
const HEAD_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The node's egress proxy: the only way out of a confined process's network namespace. It speaks
 * HTTP (CONNECT, and absolute-URI requests for plain http) and SOCKS5 on the same listener (the
 * first byte tells which; Claude Code's sandbox bridges both its HTTP and SOCKS ports to one
 * proxy when they are equal). Each destination is resolved here and every address checked by
 * `egressVerdict`: loopback, link-local (169.254.0.0/16, the metadata services), the node's own
 * addresses and, with `[sandbox] allow_hosts`, any name not listed are refused; the check and the
 * dial use the same resolved address. Listens on a unix socket (mounted into bwrap sandboxes) and
 * on a loopback port (claude's `httpProxyPort`). Logs scheme-free `host:port` only, never paths.
 */
export class EgressProxy {
  private readonly servers: Server[] = [];
  port = 0;
  refusals = 0;

  constructor(
    private readonly rule: () => Omit<EgressRule, "ownAddresses">,
    private readonly log: Logger,
  ) {}

  async start(socketPath: string): Promise<this> {
    rmSync(socketPath, { force: true });
    const onUnix = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => onUnix.once("error", reject).listen(socketPath, () => resolve()));
    chmodSync(socketPath, 0o600);
    const onTcp = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => onTcp.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
    this.port = (onTcp.address() as { port: number }).port;
    this.servers.push(onUnix, onTcp);
    for (const s of this.servers) s.unref();
    return this;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private accept(client: Socket): void {
    client.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), HEAD_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_HEAD_BYTES) return void client.destroy();
      const done = buf[0] === 5 ? this.socks(client, buf) : this.http(client, buf);
      if (done) {
        clearTimeout(timer);
        client.off("data", onData);
      }
    };
    client.on("data", onData);
    client.once("close", () => clearTimeout(timer));
  }

  /** SOCKS5, no authentication, CONNECT only. True once the request is complete (handled). */
  private socks(client: Socket, buf: Buffer): boolean {
    const methods = buf[1];
    if (methods === undefined || buf.length < 2 + methods) return false;
    const req = buf.subarray(2 + methods);
    if (req.length < 5) {
      if (!(client as Socket & { greeted?: boolean }).greeted) {
        (client as Socket & { greeted?: boolean }).greeted = true;
        client.write(Buffer.from([5, 0]));
      }
      return false;
    }
    if (!(client as Socket & { greeted?: boolean }).greeted) client.write(Buffer.from([5, 0]));
    const atyp = req[3];
    let host: string;
    let end: number;
    if (atyp === 1) {
      end = 8;
      if (req.length < end + 2) return false;
      host = [...req.subarray(4, 8)].join(".");
    } else if (atyp === 3) {
      end = 5 + req[4]!;
      if (req.length < end + 2) return false;
      host = req.subarray(5, end).toString("latin1");
    } else if (atyp === 4) {
      end = 20;
      if (req.length < end + 2) return false;
      host = (req.subarray(4, 20).toString("hex").match(/.{4}/g) ?? []).join(":");
    } else {
      client.end(Buffer.from([5, 8, 0, 1, 0, 0, 0, 0, 0, 0]));
      return true;
    }
    const port = req.readUInt16BE(end);
    const rest = req.subarray(end + 2);
    if (req[1] !== 1) {
      client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
      return true;
    }
    void this.dial(host, port, "socks").then((upstream) => {
      if (!upstream) return void client.end(Buffer.from([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
      client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      if (rest.length) upstream.write(rest);
      pipe(client, upstream);
    });
    return true;
  }

  /** HTTP CONNECT, or one absolute-URI request (plain http). True once the head is complete. */
  private http(client: Socket, buf: Buffer): boolean {
    const headEnd = buf.indexOf("\r\n\r\n");
    if (headEnd < 0) return false;
    const head = buf.subarray(0, headEnd).toString("latin1");
    const rest = buf.subarray(headEnd + 4);
    const [line = "", ...headers] = head.split("\r\n");
    const [method = "", target = ""] = line.split(" ");
    const refuse = (status: string, why: string) =>
      client.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nhuskies egress: ${why}\n`);
    if (method === "CONNECT") {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
      if (!m) return (void refuse("400 Bad Request", "CONNECT needs host:port"), true);
      void this.dial(m[1]!, Number(m[2]), "connect").then((upstream) => {
        if (!upstream) return void refuse("403 Forbidden", `${m[1]} is not reachable from a confined process`);
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        if (rest.length) upstream.write(rest);
        pipe(client, upstream);
      });
      return true;
    }
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return (void refuse("400 Bad Request", "a proxy request needs an absolute http:// URL"), true);
    }
    if (url.protocol !== "http:") return (void refuse("400 Bad Request", "only http:// is forwarded; use CONNECT for https"), true);
    const port = Number(url.port || 80);
    const kept = headers.filter((h) => !/^(proxy-[a-z-]*|connection|keep-alive)\s*:/i.test(h));
    const out = [`${method} ${url.pathname}${url.search} ${line.split(" ")[2] ?? "HTTP/1.1"}`, ...kept, "connection: close", "", ""].join(
      "\r\n",
    );
    void this.dial(url.hostname, port, "http").then((upstream) => {
      if (!upstream) return void refuse("403 Forbidden", `${url.hostname} is not reachable from a confined process`);
      upstream.write(out);
      if (rest.length) upstream.write(rest);
      pipe(client, upstream);
    });
    return true;
  }

  /** Resolve, check every address, connect to the checked one; undefined (logged) when refused. */
  private async dial(host: string, port: number, via: string): Promise<Socket | undefined> {
    const name = host.replace(/^\[|\]$/g, "");
    let addresses: string[];
    try {
      addresses = isIP(name) ? [name] : (await lookup(name, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      addresses = [];
    }
    const verdict = egressVerdict(name, addresses, { ...this.rule(), ownAddresses: ownAddresses() });
    if (!verdict.ok || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.refusals++;
      this.log.warn({ host: name, port, via, reason: verdict.ok ? "bad port" : verdict.reason }, "egress refused");
      return undefined;
    }
    return new Promise((resolve) => {
      const s = connect({ host: addresses[0]!, port, timeout: CONNECT_TIMEOUT_MS });
      s.once("connect", () => {
        s.setTimeout(0);
        resolve(s);
      });
      s.once("timeout", () => s.destroy());
      s.once("error", () => resolve(undefined));
    });
  }
}

function pipe(a: Socket, b: Socket): void {
  b.on("error", () => a.destroy());
  a.on("error", () => b.destroy());
  a.pipe(b);
  b.pipe(a);
}

let cachedOwn: { at: number; set: Set<string> } | undefined;

/** This machine's interface addresses (re-read at most every 5 s: interfaces rarely change). */
function ownAddresses(): Set<string> {
  // Monotonic: a wall clock stepped back must not keep a stale list (and a new address allowed) for the step.
  if (cachedOwn && performance.now() - cachedOwn.at < 5000) return cachedOwn.set;
  const set = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) set.add(a.address.toLowerCase().replace(/%.*$/, ""));
  cachedOwn = { at: performance.now(), set };
  return set;
}
