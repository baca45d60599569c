import { existsSync } from "node:fs";
import { findProjectRoot } from "../config/project-root.js";
import { loadProjectConfig, projectConfigPath } from "../config/project-config.js";
import { UserError } from "../errors.js";

/** Where client commands find the server: `--server`, `HUSKIES_SERVER`, then the project's port on 127.0.0.1. */
export function serverUrl(opts: { server?: string; dir?: string }): string {
  const explicit = opts.server ?? process.env.HUSKIES_SERVER;
  if (explicit) return explicit.replace(/\/+$/, "");
  const root = findProjectRoot(opts.dir ?? process.cwd());
  if (!root || !existsSync(projectConfigPath(root))) {
    throw new UserError("no .huskies/ found here or above (run `huskies init`, or pass --server URL)");
  }
  return `http://127.0.0.1:${loadProjectConfig(root).port}`;
}

/** The bearer this client presents: the admin token, else the node token. */
export function authHeaders(): Record<string, string> {
  const token = process.env.HUSKIES_ADMIN_TOKEN || process.env.HUSKIES_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Call the REST API; an error response becomes a UserError carrying the server's message.
 * Every write carries a JSON body (`{}` when there is nothing to say): the server takes writes
 * only as `application/json`, which is what keeps cross-site form posts out.
 */
export async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const write = method !== "GET" && method !== "HEAD";
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(write ? { "content-type": "application/json" } : {}), ...authHeaders() },
      body: write ? JSON.stringify(body ?? {}) : undefined,
    });
  } catch {
    throw new UserError(`cannot reach a huskies server at ${base} (start one with \`huskies serve\`)`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch { /* plain text error */ }
    throw new UserError(message || `${method} ${path} failed with HTTP ${res.status}`);
  }
  return (text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text) as T;
}
