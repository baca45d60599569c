import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { requireAdminForWrites } from "./admin-auth.js";
import { restApi } from "./rest-api.js";
import type { OperatorActions } from "./operator-actions.js";
import type { JoinTokenStore } from "../sync/join-tokens.js";
import type { StoryLogs } from "../runtime/story-log.js";

export interface Health {
  nodeId: string;
  role: string;
  version: string;
  rendezvous: { url: string | null; connected: boolean };
  mesh: { peers: string[]; max: number };
  running: string[];
  [extra: string]: unknown;
}

export interface AppDeps {
  actions: OperatorActions;
  logs: StoryLogs;
  tokens?: JoinTokenStore;
  health: () => Health;
  loopbackOnly: boolean;
  adminToken?: string;
  /** Extra routes (MCP) mounted by the caller. */
  mount?: (app: Hono) => void;
}

/** The built board: `dist/web`, next to the compiled server. */
export const BOARD_DIR = fileURLToPath(new URL("../../web/", import.meta.url));

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json",
};

export function httpApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json(deps.health()));
  app.use("/api/*", requireAdminForWrites({ loopbackOnly: deps.loopbackOnly, adminToken: deps.adminToken }));
  app.use("/mcp", requireAdminForWrites({ loopbackOnly: deps.loopbackOnly, adminToken: deps.adminToken }));
  app.route("/api", restApi(deps.actions, { tokens: deps.tokens, logs: deps.logs }));
  deps.mount?.(app);
  app.get("*", (c) => {
    const rel = normalize(decodeURIComponent(new URL(c.req.url).pathname)).replace(/^([/\\])+/, "");
    let file = join(BOARD_DIR, rel);
    if (!file.startsWith(BOARD_DIR) || !existsSync(file) || statSync(file).isDirectory()) file = join(BOARD_DIR, "index.html");
    if (!existsSync(file)) return c.text("board not built: run `npm run build`", 404);
    return c.body(readFileSync(file), 200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
  });
  return app;
}
