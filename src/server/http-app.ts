import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { errorResponse } from "./error-response.js";
import { restApi } from "./rest-api.js";
import { publicHealth, type Health } from "./health-view.js";
import type { RequestGuard } from "./request-guard.js";
import type { OperatorActions } from "./operator-actions.js";
import type { JoinTokenStore } from "../trust/join-tokens.js";
import type { StoryLogs } from "../runtime/story-log.js";
import type { JoinIssuer } from "./join-issuer.js";
import type { AdmitKey } from "./rest-api.js";
import type { IdempotencyKeys } from "./idempotency.js";

export type { Health } from "./health-view.js";

export interface AppDeps {
  actions: OperatorActions;
  logs: StoryLogs;
  tokens?: JoinTokenStore;
  /** Join strings for minted tokens and admitted keys (the rendezvous). */
  join?: JoinIssuer;
  admit?: AdmitKey;
  /** Remembered answers of REST creates sent with an `Idempotency-Key` (the rendezvous). */
  idempotency?: IdempotencyKeys;
  health: () => Health;
  /** Host, Origin, content type, body size and admin-token rules (see request-guard.ts). */
  guard: RequestGuard;
  /** Extra routes (MCP, metrics) mounted by the caller; they sit behind the guard too. */
  mount?: (app: Hono, guard: RequestGuard) => void;
}

/** The built board: `dist/web`, next to the compiled server. */
export const BOARD_DIR = fileURLToPath(new URL("../../web/", import.meta.url));

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/** Paths whose every request needs the admin token whenever the node's auth mode asks for it. */
export const GUARDED_PATHS = ["/api/*", "/mcp", "/mcp/*", "/metrics"];

export function httpApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError(errorResponse);
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.use("*", deps.guard.browserRules());
  for (const path of GUARDED_PATHS) app.use(path, deps.guard.requireAdmin());
  // Without the token, /health says only what a load balancer or a neighbour needs to know.
  app.get("/health", (c) => c.json(!deps.guard.needsToken("GET") || deps.guard.isAdmin(c) ? deps.health() : publicHealth(deps.health())));
  app.route(
    "/api",
    restApi(deps.actions, { tokens: deps.tokens, logs: deps.logs, join: deps.join, admit: deps.admit, idempotency: deps.idempotency }),
  );
  deps.mount?.(app, deps.guard);
  // The board's static files stay public: its data comes over REST and /crdt-sync, which are guarded.
  app.get("*", (c) => {
    const rel = normalize(decodeURIComponent(new URL(c.req.url).pathname)).replace(/^([/\\])+/, "");
    let file = join(BOARD_DIR, rel);
    if (!file.startsWith(BOARD_DIR) || !existsSync(file) || statSync(file).isDirectory()) file = join(BOARD_DIR, "index.html");
    if (!existsSync(file)) return c.text("board not built: run `npm run build`", 404);
    return c.body(readFileSync(file), 200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
  });
  return app;
}
