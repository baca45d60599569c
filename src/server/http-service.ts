import type { Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { JoinTokenStore } from "../sync/join-tokens.js";
import { httpApp, type Health } from "./http-app.js";
import { listen } from "./listen.js";
import { mountMcp } from "./mcp-server.js";
import { guardWrites, type WriteGate } from "./store-guard.js";
import type { NodeInfo } from "./node-info.js";

export interface HttpServiceOptions {
  info: NodeInfo;
  tokens?: JoinTokenStore;
  health: () => Health;
  host: string;
  port: number;
  loopbackOnly: boolean;
  adminToken?: string;
  /** The rendezvous serves writes and MCP; an agent serves reads only (it is no way into a project). */
  role: "rendezvous" | "agent";
  /** The replica: writes get 503 while its store fails (never a 2xx for an unpersisted write). */
  writeGate?: WriteGate;
}

/** The HTTP side of a node: REST, MCP (rendezvous only), the board and `/health`. */
export class HttpService {
  server!: Server;
  port = 0;

  constructor(private readonly opts: HttpServiceOptions) {}

  async start(): Promise<Server> {
    const o = this.opts;
    const inner = httpApp({
      actions: o.info.actions, logs: o.info.logs, tokens: o.role === "rendezvous" ? o.tokens : undefined, health: o.health,
      loopbackOnly: o.loopbackOnly, adminToken: o.adminToken,
      mount: o.role === "rendezvous" ? (a: Hono) => mountMcp(a, o.info) : undefined,
    });
    const app = o.role === "rendezvous" ? inner : readOnly(inner);
    const listening = await listen(getRequestListener(o.writeGate ? guardWrites(o.writeGate, app.fetch) : app.fetch), o.port, o.host);
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
