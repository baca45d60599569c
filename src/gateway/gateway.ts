import Database from "better-sqlite3";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { Server } from "node:http";
import { z } from "zod";
import { JOIN_TOKEN_TTL_SECS } from "../config/defaults.js";
import { JoinTokenStore } from "../sync/join-tokens.js";
import { requireAdminForWrites, isLoopbackHost } from "../server/admin-auth.js";
import { listen } from "../server/listen.js";
import { logger } from "../log.js";

const registration = z.strictObject({
  token: z.string().min(1),
  nodeId: z.string().regex(/^[0-9a-f]{64}$/, "nodeId must be a 64-char hex public key"),
  label: z.string().min(1).max(100),
  address: z.string().regex(/^wss?:\/\/\S+$/, "address must be a ws:// URL").max(300),
});

export interface GatewayProject {
  name: string;
  url: string;
}

/**
 * The gateway: mints one-time join tokens, registers build agents that present one, and shows
 * the projects it fronts. `/gateway/register` is open by design: the token is the credential.
 */
export async function startGateway(opts: { port: number; host: string; dbFile: string; projects: GatewayProject[] }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const log = logger("gateway");
  const db = new Database(opts.dbFile);
  const tokens = new JoinTokenStore(db);
  db.exec("CREATE TABLE IF NOT EXISTS agents (node_id TEXT PRIMARY KEY, label TEXT NOT NULL, address TEXT NOT NULL, registered_at INTEGER NOT NULL)");
  const loopbackOnly = isLoopbackHost(opts.host);
  const adminToken = process.env.HUSKIES_ADMIN_TOKEN || undefined;

  const app = new Hono();
  app.get("/health", (c) => c.json({ role: "gateway", agents: (db.prepare("SELECT COUNT(*) AS n FROM agents").get() as { n: number }).n }));
  app.use("/gateway/tokens", requireAdminForWrites({ loopbackOnly, adminToken }));
  app.post("/gateway/tokens", async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { ttlSecs?: number };
    const ttl = typeof body.ttlSecs === "number" && body.ttlSecs > 0 ? body.ttlSecs : JOIN_TOKEN_TTL_SECS;
    return c.json(tokens.create(ttl), 201);
  });
  app.post("/gateway/register", async (c) => {
    const parsed = registration.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: parsed.error.issues[0]!.message }, 400);
    const r = parsed.data;
    const used = tokens.consume(r.token, r.nodeId);
    if (!used.ok) return c.json({ error: used.reason }, 401);
    db.prepare("INSERT OR REPLACE INTO agents (node_id, label, address, registered_at) VALUES (?, ?, ?, ?)").run(r.nodeId, r.label, r.address, Date.now());
    log.info({ nodeId: r.nodeId.slice(0, 12), label: r.label }, "agent registered");
    return c.json({ ok: true }, 201);
  });
  app.get("/gateway/agents", (c) => c.json(
    (db.prepare("SELECT node_id AS nodeId, label, address, registered_at AS registeredAt FROM agents ORDER BY registered_at").all())));
  app.get("/gateway/projects", async (c) => c.json(await Promise.all(opts.projects.map(async (p) => {
    try {
      const res = await fetch(`${p.url.replace(/\/+$/, "")}/api/pipeline`, { signal: AbortSignal.timeout(3000) });
      return { ...p, reachable: res.ok, pipeline: res.ok ? await res.json() : null };
    } catch {
      return { ...p, reachable: false, pipeline: null };
    }
  }))));

  const { server, port } = await listen(getRequestListener(app.fetch), opts.port, opts.host);
  log.info({ port, host: opts.host }, "gateway listening");
  return {
    server, port,
    close: async () => {
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      db.close();
    },
  };
}
