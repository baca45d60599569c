import type { MiddlewareHandler } from "hono";
import { bearerMatches } from "../sync/auth-policy.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith("127.");
}

/**
 * Writes (any method but GET/HEAD) need `Authorization: Bearer <admin token>` unless the server
 * listens on loopback only, where anyone who can connect already owns the machine.
 */
export function requireAdminForWrites(opts: { loopbackOnly: boolean; adminToken?: string }): MiddlewareHandler {
  return async (c, next) => {
    if (opts.loopbackOnly || c.req.method === "GET" || c.req.method === "HEAD") return next();
    const header = c.req.header("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : undefined;
    if (!bearerMatches(opts.adminToken, token)) return c.json({ error: "admin token required (Authorization: Bearer …)" }, 401);
    return next();
  };
}
