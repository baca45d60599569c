import { chmodSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Logger } from "pino";
import type { Bridge } from "./policy.js";

/** What a confined CLI gets instead of a model-API key: useless anywhere but through the node's proxy. */
export const PLACEHOLDER_KEY = "huskies-placeholder-key";

/**
 * A model API a runtime's CLI talks to. The node keeps the real credential; the CLI gets
 * `baseUrlEnv` pointing at the node's credential proxy and `PLACEHOLDER_KEY` in each key variable.
 * The runtimes to come add their provider here (OpenAI and Gemini are already described).
 */
export interface ModelProvider {
  name: string;
  /** Variables naming the API's address (the first is set for the CLI). */
  baseUrlEnv: readonly string[];
  /** Variables holding a credential, in order of preference, each with the header it becomes. */
  keys: ReadonlyArray<{ env: string; header: (key: string) => [string, string] }>;
  defaultUpstream: string;
}

export const MODEL_PROVIDERS: readonly ModelProvider[] = [
  {
    name: "anthropic",
    baseUrlEnv: ["ANTHROPIC_BASE_URL"],
    keys: [
      { env: "ANTHROPIC_API_KEY", header: (k) => ["x-api-key", k] },
      { env: "ANTHROPIC_AUTH_TOKEN", header: (k) => ["authorization", `Bearer ${k}`] },
      { env: "CLAUDE_CODE_OAUTH_TOKEN", header: (k) => ["authorization", `Bearer ${k}`] },
    ],
    defaultUpstream: "https://api.anthropic.com",
  },
  {
    name: "openai",
    baseUrlEnv: ["OPENAI_BASE_URL"],
    keys: [{ env: "OPENAI_API_KEY", header: (k) => ["authorization", `Bearer ${k}`] }],
    defaultUpstream: "https://api.openai.com/v1",
  },
  {
    name: "gemini",
    baseUrlEnv: ["GOOGLE_GEMINI_BASE_URL", "GEMINI_BASE_URL"],
    keys: [
      { env: "GEMINI_API_KEY", header: (k) => ["x-goog-api-key", k] },
      { env: "GOOGLE_API_KEY", header: (k) => ["x-goog-api-key", k] },
    ],
    defaultUpstream: "https://generativelanguage.googleapis.com",
  },
];

/** Headers that belong to one hop, and the credential headers the proxy owns. */
const DROP = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The node's model-API credential proxy: a confined process can read the environment of the CLI
 * it runs under, so the CLI never holds the key. It gets `http://127.0.0.1:<port>/<provider>` as
 * its base URL and a placeholder key; the proxy swaps in the node's real credential and forwards
 * to the real API (the node's own `*_BASE_URL` when set, else the provider's default), streaming
 * both ways. Without a real credential for a provider it forwards the CLI's own headers (a
 * subscription login whose token lives in the CLI's credentials file). Listens on loopback (for
 * claude, which runs outside bwrap) and on a unix socket (bridged into bwrap sandboxes).
 */
export class CredentialProxy {
  private readonly servers: Server[] = [];
  port = 0;
  socket = "";

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  async start(socketPath: string): Promise<this> {
    rmSync(socketPath, { force: true });
    const make = () => createServer((req, res) => this.forward(req, res));
    const tcp = make();
    await new Promise<void>((resolve, reject) => tcp.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
    this.port = (tcp.address() as { port: number }).port;
    const unix = make();
    await new Promise<void>((resolve, reject) => unix.once("error", reject).listen(socketPath, () => resolve()));
    chmodSync(socketPath, 0o600);
    this.socket = socketPath;
    this.servers.push(tcp, unix);
    for (const s of this.servers) s.unref();
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.servers) s.closeAllConnections();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  /** The bridge a bwrap sandbox needs to reach this proxy at the same URL. */
  bridge(): Bridge {
    return { port: this.port, socket: this.socket };
  }

  /**
   * Rewrite a CLI's environment: for each provider whose credential is in `env`, the key becomes
   * the placeholder and the base URL this proxy. Returns the providers routed (so a bwrap run
   * knows it needs the bridge).
   */
  routeEnv(env: Record<string, string>): string[] {
    const routed: string[] = [];
    for (const p of MODEL_PROVIDERS) {
      const held = p.keys.filter((k) => env[k.env] !== undefined);
      if (!held.length) continue;
      for (const k of held) env[k.env] = PLACEHOLDER_KEY;
      for (const b of p.baseUrlEnv) delete env[b];
      env[p.baseUrlEnv[0]!] = `http://127.0.0.1:${this.port}/${p.name}`;
      routed.push(p.name);
    }
    return routed;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const m = /^\/([a-z]+)(\/.*)?$/.exec(req.url ?? "");
    const provider = MODEL_PROVIDERS.find((p) => p.name === m?.[1]);
    if (!provider) return void res.writeHead(404, { "content-type": "text/plain" }).end("huskies credential proxy: unknown provider\n");
    const upstream = new URL(this.upstreamOf(provider));
    const path = `${upstream.pathname.replace(/\/$/, "")}${m![2] ?? "/"}`;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !DROP.has(k)) headers[k] = v;
    const real = provider.keys.map((k) => ({ k, value: this.env[k.env] })).find((x) => x.value);
    if (real) {
      for (const k of provider.keys) delete headers[k.header("x")[0]];
      const [name, value] = real.k.header(real.value!);
      headers[name] = value;
    }
    const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
    const out = send(
      { protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port || undefined, method: req.method, path, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on("error", (err) => {
      this.log.warn(
        { provider: provider.name, upstream: upstream.host, err: err.message },
        "model API unreachable through the credential proxy",
      );
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end();
    });
    req.pipe(out);
  }

  private upstreamOf(p: ModelProvider): string {
    for (const b of p.baseUrlEnv) if (this.env[b]) return this.env[b]!;
    return p.defaultUpstream;
  }
}
