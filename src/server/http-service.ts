import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { LiveConfig } from "../config/live-config.js";
import type { JoinTokenStore } from "../trust/join-tokens.js";
import { httpApp, type Health } from "./http-app.js";
import { listen, type AnyServer } from "./listen.js";
import { guardWrites, type WriteGate } from "./store-guard.js";
import type { NodeInfo } from "./node-info.js";
import { RequestGuard } from "./request-guard.js";
import type { TlsMaterial } from "./tls-files.js";
import type { JoinIssuer } from "./join-issuer.js";
import type { AdmitKey } from "./rest-api.js";
import type { IdempotencyKeys } from "./idempotency.js";

export interface HttpServiceOptions {
  info: NodeInfo;
  tokens?: JoinTokenStore;
  /** The rendezvous: join strings for minted tokens and admitted keys. */
  join?: JoinIssuer;
  admit?: AdmitKey;
  /** `Idempotency-Key` on REST creates (the rendezvous). */
  idempotency?: IdempotencyKeys;
  health: () => Health;
  host: string;
  port: number;
  loopbackOnly: boolean;
  /** Sync runs open (loopback, no keys): then reads need no token. */
  open: boolean;
  adminToken?: string;
  /** `public_urls`, `allowed_origins`, `max_body_bytes` are read from it on every request. */
  config: LiveConfig;
  tls?: TlsMaterial;
  /** The URL other hosts reach this node by (`--advertise`). */
  advertise?: string;
  /** The rendezvous serves writes and MCP; an agent serves reads only (it is no way into a project). */
  role: "rendezvous" | "agent";
  /** The replica: writes get 503 while its store fails (never a 2xx for an unpersisted write). */
  writeGate?: WriteGate;
  /** Routes the node adds (diff, metrics), behind the same guard. */
  routes?: (app: Hono) => void;
}

/** The HTTP side of a node: REST, MCP (rendezvous only), the board and `/health`. */
export class HttpService {
  server!: AnyServer;
  port = 0;
  /** Host/Origin/content-type/size/token rules; the `/crdt-sync` upgrade uses its `checkUpgrade`. */
  readonly guard: RequestGuard;

  constructor(private readonly opts: HttpServiceOptions) {
    const o = opts;
    this.guard = new RequestGuard({
      boundHost: o.host,
      advertise: o.advertise,
      tls: !!o.tls,
      port: () => this.port,
      adminToken: o.adminToken,
      settings: () => ({
        publicUrls: o.config.project.public_urls,
        allowedOrigins: o.config.project.allowed_origins,
        maxBodyBytes: o.config.project.max_body_bytes,
      }),
      readsNeedToken: !o.open,
      writesNeedToken: !o.open || !o.loopbackOnly,
    });
  }

  async start(): Promise<AnyServer> {
    const o = this.opts;
    // Only the rendezvous serves MCP: agents never load the SDK (~10 MB of an idle agent's memory).
    const mcp = o.role === "rendezvous" ? await import("./mcp-server.js") : undefined;
    const inner = httpApp({
      actions: o.info.actions,
      logs: o.info.logs,
      tokens: o.role === "rendezvous" ? o.tokens : undefined,
      health: o.health,
      join: o.role === "rendezvous" ? o.join : undefined,
      admit: o.role === "rendezvous" ? o.admit : undefined,
      idempotency: o.role === "rendezvous" ? o.idempotency : undefined,
      guard: this.guard,
      mount: (a: Hono, guard: RequestGuard) => {
        o.routes?.(a);
        if (mcp) mcp.mountMcp(a, o.info, guard);
      },
    });
    const app = o.role === "rendezvous" ? inner : readOnly(inner);
    const listening = await listen(
      getRequestListener(o.writeGate ? guardWrites(o.writeGate, app.fetch) : app.fetch),
      o.port,
      o.host,
      o.tls,
    );
    this.server = listening.server;
    this.port = listening.port;
    return this.server;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** An agent's REST is read-only: writes go to the rendezvous, never through an agent. */
function readOnly(inner: Hono): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    return c.json({ error: "agents serve no writes; send them to the rendezvous" }, 405);
  });
  app.route("/", inner);
  return app;
}
