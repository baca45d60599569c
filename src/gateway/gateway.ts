import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { z } from "zod";
import { GATEWAY_CHALLENGE_TTL_SECS, GATEWAY_MAX_OPEN_CHALLENGES, MAX_BODY_BYTES } from "../config/defaults.js";
import { UserError } from "../errors.js";
import { JoinTokenStore } from "../sync/join-tokens.js";
import { verifySignature } from "../sync/identity.js";
import { isLoopbackHost, RequestGuard } from "../server/request-guard.js";
import { errorResponse } from "../server/error-response.js";
import { jsonObject } from "../server/json-body.js";
import { tokenTtl } from "../server/token-ttl.js";
import { listen, type AnyServer } from "../server/listen.js";
import type { TlsMaterial } from "../server/tls-files.js";
import { logger } from "../log.js";
import { ChallengeStore } from "./challenges.js";
import { registrationMessage } from "./registration-proof.js";

const registration = z.strictObject({
  token: z.string().min(1).max(200),
  nodeId: z.string().regex(/^[0-9a-f]{64}$/, "nodeId must be a 64-char hex public key"),
  label: z.string().min(1).max(100),
  address: z
    .string()
    .regex(/^wss?:\/\/\S+$/, "address must be a ws:// URL")
    .max(300),
  challenge: z.string().regex(/^[0-9a-f]{64}$/, "challenge must be the one GET /gateway/challenge returned"),
  signature: z.string().regex(/^[0-9a-f]{128}$/, "signature must be a hex Ed25519 signature"),
});

export interface GatewayProject {
  name: string;
  url: string;
  /** The project's admin token (read from the variable `admin_token_env` names); never shown. */
  adminToken?: string;
}

export interface GatewayOptions {
  port: number;
  host: string;
  dbFile: string;
  projects: GatewayProject[];
  tls?: TlsMaterial;
  maxBodyBytes?: number;
}

/**
 * The gateway: mints one-time join tokens, registers build agents that present one and prove
 * they hold the key they name, and shows the projects it fronts. `/gateway/challenge` and
 * `/gateway/register` are open by design (the token and the signature are the credential);
 * every other `/gateway/*` route needs the gateway's admin token off loopback.
 */
export async function startGateway(
  opts: GatewayOptions,
): Promise<{ server: AnyServer; port: number; gatewayId: string; close(): Promise<void> }> {
  const log = logger("gateway");
  const loopbackOnly = isLoopbackHost(opts.host);
  const adminToken = process.env.HUSKIES_ADMIN_TOKEN || undefined;
  if (!loopbackOnly && !adminToken)
    throw new UserError(`refusing to run a gateway on ${opts.host} without HUSKIES_ADMIN_TOKEN (anyone could mint join tokens)`);
  const db = new Database(opts.dbFile);
  const tokens = new JoinTokenStore(db);
  db.exec(
    "CREATE TABLE IF NOT EXISTS agents (node_id TEXT PRIMARY KEY, label TEXT NOT NULL, address TEXT NOT NULL, registered_at INTEGER NOT NULL)",
  );
  const gatewayId = gatewayIdentity(db);
  const challenges = new ChallengeStore(GATEWAY_CHALLENGE_TTL_SECS * 1000, GATEWAY_MAX_OPEN_CHALLENGES);
  let port = 0;
  const guard = new RequestGuard({
    boundHost: opts.host,
    tls: !!opts.tls,
    port: () => port,
    adminToken,
    settings: () => ({ publicUrls: [], allowedOrigins: [], maxBodyBytes: opts.maxBodyBytes ?? MAX_BODY_BYTES }),
    readsNeedToken: !loopbackOnly,
    writesNeedToken: !loopbackOnly,
  });

  const app = new Hono();
  app.onError(errorResponse);
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.use("*", guard.browserRules());
  for (const path of ["/gateway/tokens", "/gateway/agents", "/gateway/projects"]) app.use(path, guard.requireAdmin());
  app.get("/health", (c) =>
    c.json({
      role: "gateway",
      gatewayId,
      tls: !!opts.tls,
      agents: (db.prepare("SELECT COUNT(*) AS n FROM agents").get() as { n: number }).n,
    }),
  );
  app.post("/gateway/tokens", async (c) => {
    const ttl = tokenTtl((await jsonObject(c)).ttlSecs);
    if (!ttl.ok) return c.json({ error: ttl.error }, 400);
    return c.json(tokens.create(ttl.secs), 201);
  });
  app.get("/gateway/challenge", (c) => c.json({ challenge: challenges.issue(), gatewayId }));
  app.post("/gateway/register", async (c) => {
    const parsed = registration.safeParse(await jsonObject(c));
    if (!parsed.success) return c.json({ error: parsed.error.issues[0]!.message }, 400);
    const r = parsed.data;
    if (!challenges.take(r.challenge)) return c.json({ error: "unknown, used or expired challenge (GET /gateway/challenge first)" }, 401);
    // The signature comes before the token: a caller without the key must not burn someone's token.
    if (!verifySignature(r.nodeId, registrationMessage(gatewayId, r.token, r.challenge), r.signature)) {
      log.warn({ nodeId: r.nodeId.slice(0, 12) }, "registration with a bad signature refused");
      return c.json({ error: "the signature does not prove the key of nodeId" }, 401);
    }
    const used = tokens.consume(r.token, r.nodeId);
    if (!used.ok) return c.json({ error: used.reason }, 401);
    db.prepare("INSERT OR REPLACE INTO agents (node_id, label, address, registered_at) VALUES (?, ?, ?, ?)").run(
      r.nodeId,
      r.label,
      r.address,
      Date.now(),
    );
    log.info({ nodeId: r.nodeId.slice(0, 12), label: r.label }, "agent registered");
    return c.json({ ok: true }, 201);
  });
  app.get("/gateway/agents", (c) =>
    c.json(db.prepare("SELECT node_id AS nodeId, label, address, registered_at AS registeredAt FROM agents ORDER BY registered_at").all()),
  );
  app.get("/gateway/projects", async (c) =>
    c.json(
      await Promise.all(
        opts.projects.map(async (p) => {
          const shown = { name: p.name, url: p.url };
          try {
            const res = await fetch(`${p.url.replace(/\/+$/, "")}/api/pipeline`, {
              headers: p.adminToken ? { authorization: `Bearer ${p.adminToken}` } : {},
              signal: AbortSignal.timeout(3000),
            });
            return { ...shown, reachable: res.ok, pipeline: res.ok ? await res.json() : null };
          } catch {
            return { ...shown, reachable: false, pipeline: null };
          }
        }),
      ),
    ),
  );

  const listening = await listen(getRequestListener(app.fetch), opts.port, opts.host, opts.tls);
  port = listening.port;
  log.info({ port, host: opts.host, tls: !!opts.tls, gatewayId }, "gateway listening");
  return {
    server: listening.server,
    port,
    gatewayId,
    close: async () => {
      await new Promise<void>((r) => {
        listening.server.close(() => r());
        listening.server.closeAllConnections();
      });
      db.close();
    },
  };
}

/** The gateway's id: random, kept in its database so agents see the same one across restarts. */
function gatewayIdentity(db: Database.Database): string {
  db.exec("CREATE TABLE IF NOT EXISTS gateway_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = db.prepare("SELECT value FROM gateway_meta WHERE key = 'id'").get() as { value: string } | undefined;
  if (row) return row.value;
  const id = `gw_${randomBytes(16).toString("hex")}`;
  db.prepare("INSERT INTO gateway_meta (key, value) VALUES ('id', ?)").run(id);
  return id;
}
