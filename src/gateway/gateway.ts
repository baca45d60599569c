import Database from "better-sqlite3";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { z } from "zod";
import { GATEWAY_CHALLENGE_TTL_SECS, GATEWAY_MAX_OPEN_CHALLENGES, MAX_BODY_BYTES } from "../config/defaults.js";
import { UserError } from "../errors.js";
import { verifySignature } from "../trust/identity.js";
import { encodeJoin } from "../trust/join-string.js";
import { isLoopbackHost, RequestGuard } from "../server/request-guard.js";
import { errorResponse } from "../server/error-response.js";
import { jsonObject } from "../server/json-body.js";
import { tokenTtl } from "../server/token-ttl.js";
import { certificateFingerprint, reachableAuthority } from "../server/join-issuer.js";
import { listen, type AnyServer } from "../server/listen.js";
import type { TlsMaterial } from "../server/tls-files.js";
import { logger } from "../log.js";
import { ChallengeStore } from "./challenges.js";
import { GATEWAY_PAGE_HTML, GATEWAY_PAGE_JS } from "./gateway-page.js";
import { projectOverview, registeredAgents, type ProjectOverview } from "./overview.js";
import { ProjectClient, type GatewayProject } from "./project-client.js";
import { registrationMessage } from "../trust/registration-proof.js";
import { GatewayRegistry } from "./registry.js";
import { mountGatewayMcp } from "./gateway-mcp.js";

export type { GatewayProject } from "./project-client.js";

const registration = z.strictObject({
  token: z.string().min(1).max(200),
  nodeId: z.string().regex(/^[0-9a-f]{64}$/, "nodeId must be a 64-char hex public key"),
  label: z.string().min(1).max(100),
  address: z
    .string()
    .regex(/^wss?:\/\/\S+$/, "address must be a ws:// URL")
    .max(300)
    .optional(),
  challenge: z.string().regex(/^[0-9a-f]{64}$/, "challenge must be the one GET /gateway/challenge returned"),
  signature: z.string().regex(/^[0-9a-f]{128}$/, "signature must be a hex Ed25519 signature"),
});

export interface GatewayOptions {
  port: number;
  host: string;
  dbFile: string;
  projects: GatewayProject[];
  tls?: TlsMaterial;
  maxBodyBytes?: number;
}

const PAGE_CSP =
  "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The gateway: mints one-time tokens (as join strings naming a project), registers build agents
 * that present one and prove they hold the key they name, admits that key in the project
 * through the project's REST API (`POST /api/nodes/admit`, with the project's admin token) and
 * hands the agent the project's join string; shows every project on one page. `/`,
 * `/gateway/challenge` and `/gateway/register` are open by design (the page holds no data; the
 * token and the signature are the credential); every other `/gateway/*` route needs the
 * gateway's admin token off loopback.
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
  const registry = new GatewayRegistry(db);
  const { gatewayId } = registry;
  const projects = new Map(opts.projects.map((p) => [p.name, new ProjectClient(p)]));
  const fingerprint = opts.tls ? certificateFingerprint(opts.tls.cert) : undefined;
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
  const overviews = async (): Promise<ProjectOverview[]> => {
    const now = Date.now();
    return Promise.all([...projects.values()].map(async (c) => projectOverview(c.project.name, c.project.url, await c.snapshot(now), now)));
  };

  const app = new Hono();
  app.onError(errorResponse);
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.use("*", guard.browserRules());
  for (const path of ["/gateway/tokens", "/gateway/agents", "/gateway/projects", "/gateway/overview", "/mcp"])
    app.use(path, guard.requireAdmin());
  app.get("/health", (c) => c.json({ role: "gateway", gatewayId, tls: !!opts.tls, agents: registry.count() }));
  app.get("/", (c) => c.body(GATEWAY_PAGE_HTML, 200, { "content-type": "text/html; charset=utf-8", "content-security-policy": PAGE_CSP }));
  app.get("/gateway/page.js", (c) => c.body(GATEWAY_PAGE_JS, 200, { "content-type": "text/javascript; charset=utf-8" }));

  app.post("/gateway/tokens", async (c) => {
    const body = await jsonObject(c);
    const ttl = tokenTtl(body.ttlSecs);
    if (!ttl.ok) return c.json({ error: ttl.error }, 400);
    const names = [...projects.keys()];
    // A gateway that fronts one project needs no name; with several, the caller picks one.
    const project = body.project === undefined && names.length === 1 ? names[0] : body.project;
    if (project !== undefined && (typeof project !== "string" || !projects.has(project)))
      return c.json({ error: `project must be one of: ${names.join(", ") || "(none configured: gateway --config projects.toml)"}` }, 400);
    if (project === undefined && names.length > 1) return c.json({ error: `body needs {project}: one of ${names.join(", ")}` }, 400);
    const created = registry.createToken(ttl.secs, project);
    if (!project) return c.json(created, 201);
    const url = `${opts.tls ? "https" : "http"}://${reachableAuthority(c.req.header("host"), opts.host, port)}`;
    return c.json(
      { ...created, project, join: encodeJoin({ v: 1, kind: "gateway", url, gatewayId, token: created.token, project, fingerprint }) },
      201,
    );
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
    const used = registry.tokens.consume(r.token, r.nodeId);
    if (!used.ok) return c.json({ error: used.reason }, 401);
    const projectName = registry.projectOf(r.token);
    const client = projectName ? projects.get(projectName) : undefined;
    let join: string | undefined;
    if (projectName) {
      try {
        if (!client) throw new Error(`project ${projectName} is no longer in this gateway's config`);
        join = await client.admit(r.nodeId);
      } catch (err) {
        // Not the agent's fault: give the token back so it can try again once the project answers.
        registry.tokens.release(r.token, r.nodeId);
        log.error(
          { nodeId: r.nodeId.slice(0, 12), project: projectName, err: (err as Error).message },
          "could not admit the agent in its project",
        );
        return c.json({ error: `could not admit this key in project ${projectName}: ${(err as Error).message}` }, 502);
      }
    }
    registry.record({ nodeId: r.nodeId, label: r.label, address: r.address ?? "", project: projectName ?? "" });
    log.info({ nodeId: r.nodeId.slice(0, 12), label: r.label, project: projectName }, "agent registered");
    return c.json(projectName && join ? { ok: true, project: { name: projectName, join } } : { ok: true }, 201);
  });
  app.get("/gateway/agents", async (c) => {
    const byName = new Map((await overviews()).map((o) => [o.name, o]));
    return c.json(registeredAgents(registry.list(), byName));
  });
  app.get("/gateway/overview", async (c) => c.json({ at: Date.now(), gatewayId, projects: await overviews() }));
  app.get("/gateway/projects", async (c) =>
    c.json(
      await Promise.all(
        [...projects.values()].map(async (client) => {
          const snap = await client.snapshot();
          return { name: client.project.name, url: client.project.url, reachable: snap.reachable, pipeline: snap.pipeline ?? null };
        }),
      ),
    ),
  );

  mountGatewayMcp(app, { projects, overviews }, guard);

  const listening = await listen(getRequestListener(app.fetch), opts.port, opts.host, opts.tls);
  port = listening.port;
  log.info({ port, host: opts.host, tls: !!opts.tls, gatewayId, fingerprint }, "gateway listening");
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
