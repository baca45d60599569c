import type { IncomingMessage } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { bearerMatches } from "../trust/auth-policy.js";
import { hostnameOf, originOf, servedHostnames, servesHostname, trustedOrigins, type ServedNamesOptions } from "./served-names.js";

export { isLoopbackName as isLoopbackHost } from "./served-names.js";

/** What a node tells its guard. Settings are read per request, so project.toml edits apply live. */
export interface RequestGuardOptions {
  /** The address the server is bound to (`--host`). */
  boundHost: string;
  /** The node's `--advertise` URL, if it has one. */
  advertise?: string;
  /** Whether the server speaks TLS: the node's own origin is then https://, else http://. */
  tls: boolean;
  /** The port the server listens on (known once it listens). */
  port(): number;
  settings(): { publicUrls: readonly string[]; allowedOrigins: readonly string[]; maxBodyBytes: number };
  /** `HUSKIES_ADMIN_TOKEN` of this process, if set. */
  adminToken?: string;
  /** Reads (GET/HEAD) on guarded routes need the admin token: sync requires auth here. */
  readsNeedToken: boolean;
  /** Writes on guarded routes need the admin token: the server is not loopback-only, or sync requires auth. */
  writesNeedToken: boolean;
}

/** A refusal: HTTP status and one-line reason. */
export interface Refusal {
  status: 400 | 401 | 403 | 413 | 415 | 421;
  reason: string;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const READ_METHODS = new Set(["GET", "HEAD"]);

/**
 * The one place that decides whether an HTTP request or a WebSocket upgrade may reach this node:
 * `Host` must be a name the node serves (DNS rebinding), a browser's `Origin` must be the node's
 * own or an allowed one (cross-site requests), writes must be JSON (no form posts), bodies have
 * a size limit, and guarded routes need the admin token as the node's auth mode says.
 */
export class RequestGuard {
  constructor(private readonly opts: RequestGuardOptions) {}

  private names(): ServedNamesOptions {
    const s = this.opts.settings();
    return { boundHost: this.opts.boundHost, advertise: this.opts.advertise, publicUrls: s.publicUrls, allowedOrigins: s.allowedOrigins };
  }

  private get scheme(): "http" | "https" {
    return this.opts.tls ? "https" : "http";
  }

  /** Host and Origin rules, shared by HTTP requests and WebSocket upgrades. */
  checkHostAndOrigin(host: string | undefined, origin: string | undefined): Refusal | undefined {
    const name = hostnameOf(host);
    if (!name) return { status: 400, reason: "missing or malformed Host header" };
    if (!servesHostname(this.names(), name))
      return { status: 421, reason: `this node does not serve the host name ${name} (add its URL to public_urls)` };
    if (origin === undefined) return undefined;
    const given = originOf(origin);
    const own = originOf(`${this.scheme}://${host}`);
    if (given && (given === own || trustedOrigins(this.names()).has(given))) return undefined;
    return { status: 403, reason: `requests from origin ${origin} are not allowed (add it to allowed_origins)` };
  }

  /** For a `/crdt-sync` upgrade: undefined when allowed, else why not (the caller writes a 403). */
  checkUpgrade(req: IncomingMessage): string | undefined {
    return this.checkHostAndOrigin(req.headers.host, req.headers.origin)?.reason;
  }

  /**
   * Middleware for every route: Host (421), Origin (403), path encoding (400), then for
   * POST/PUT/PATCH a JSON content type (415), and a body no larger than `max_body_bytes` (413,
   * decided from Content-Length before reading, or while streaming a chunked body).
   */
  browserRules(): MiddlewareHandler {
    return async (c, next) => {
      const refused = this.checkHostAndOrigin(c.req.header("host"), c.req.header("origin")) ?? checkPath(c.req.url);
      if (refused) return c.json({ error: refused.reason }, refused.status);
      if (BODY_METHODS.has(c.req.method) && !isJson(c.req.header("content-type"))) {
        return c.json({ error: `${c.req.method} needs content-type: application/json` }, 415);
      }
      const maxSize = this.opts.settings().maxBodyBytes;
      return bodyLimit({ maxSize, onError: (ctx) => ctx.json({ error: `request body over max_body_bytes (${maxSize} bytes)` }, 413) })(
        c,
        next,
      );
    };
  }

  /** Whether the request carries the admin token: `Authorization: Bearer …`, or `?token=` on a read (EventSource cannot set headers). */
  isAdmin(c: Context): boolean {
    const header = c.req.header("authorization") ?? "";
    const bearer = /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (bearerMatches(this.opts.adminToken, bearer)) return true;
    return READ_METHODS.has(c.req.method) && bearerMatches(this.opts.adminToken, new URL(c.req.url).searchParams.get("token"));
  }

  /** Whether this node wants the admin token for this method at all. */
  needsToken(method: string): boolean {
    return READ_METHODS.has(method) ? this.opts.readsNeedToken : this.opts.writesNeedToken;
  }

  /** Middleware for guarded routes (`/api/*`, `/mcp`, `/metrics`, gateway admin routes): 401 without the admin token when needed. */
  requireAdmin(): MiddlewareHandler {
    return async (c, next) => {
      if (!this.needsToken(c.req.method) || this.isAdmin(c)) return next();
      const hint = this.opts.adminToken ? "" : " (this node has no HUSKIES_ADMIN_TOKEN set: set one to use this route)";
      return c.json({ error: `admin token required (Authorization: Bearer …)${hint}` }, 401);
    };
  }

  /**
   * Options for the MCP SDK's own DNS-rebinding protection, from the same lists: every served
   * name with and without the port, plus the request's Host (already accepted by `browserRules`,
   * and needed because 127.0.0.0/8 cannot be listed).
   */
  mcpProtection(requestHost: string | undefined): { enableDnsRebindingProtection: true; allowedHosts: string[]; allowedOrigins: string[] } {
    const port = this.opts.port();
    const hosts = new Set<string>();
    const names = this.names();
    for (const n of servedHostnames(names)) {
      const h = n.includes(":") ? `[${n}]` : n;
      hosts.add(h);
      hosts.add(`${h}:${port}`);
    }
    for (const url of names.publicUrls) {
      try {
        hosts.add(new URL(url).host);
      } catch {
        /* validated by the config schema */
      }
    }
    if (requestHost) hosts.add(requestHost);
    const origins = new Set<string>(trustedOrigins(names));
    for (const h of hosts) origins.add(`${this.scheme}://${h}`);
    return { enableDnsRebindingProtection: true, allowedHosts: [...hosts], allowedOrigins: [...origins] };
  }
}

function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "application/json";
}

/** A path that does not percent-decode is a client error, not something for a route to trip on. */
function checkPath(url: string): Refusal | undefined {
  try {
    decodeURIComponent(new URL(url).pathname);
    return undefined;
  } catch {
    return { status: 400, reason: "malformed percent-encoding in the path" };
  }
}
