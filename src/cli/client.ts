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

/** Call the REST API; an error response becomes a UserError carrying the server's message. */
export async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const token = process.env.HUSKIES_ADMIN_TOKEN ?? process.env.HUSKIES_TOKEN;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
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
