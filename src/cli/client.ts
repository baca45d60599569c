import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { findProjectRoot } from "../config/project-root.js";
import { loadProjectConfig, projectConfigPath } from "../config/project-config.js";
import { UserError } from "../errors.js";
import { certificateFingerprint } from "../server/join-issuer.js";
import { PinMismatchError, pinnedRequest } from "../trust/pinned-request.js";

/**
 * Where client commands find the server: `--server`, `HUSKIES_SERVER`, then the project's port on
 * 127.0.0.1 (https when the project's `[tls]` is set).
 */
export function serverUrl(opts: { server?: string; dir?: string }): string {
  const explicit = opts.server ?? process.env.HUSKIES_SERVER;
  if (explicit) return explicit.replace(/\/+$/, "");
  const root = findProjectRoot(opts.dir ?? process.cwd());
  if (!root || !existsSync(projectConfigPath(root))) {
    throw new UserError("no .huskies/ found here or above (run `huskies init`, or pass --server URL)");
  }
  const cfg = loadProjectConfig(root);
  return `${cfg.tls ? "https" : "http"}://127.0.0.1:${cfg.port}`;
}

/**
 * The certificate an https server must show, for a self-signed one: `HUSKIES_SERVER_FINGERPRINT`
 * (SHA-256), `HUSKIES_SERVER_CERT` (its PEM file), or the local project's `[tls] cert` (a command
 * run on the server's own machine). Undefined: the system's CAs decide.
 */
export function serverFingerprint(): string | undefined {
  if (process.env.HUSKIES_SERVER_FINGERPRINT) return process.env.HUSKIES_SERVER_FINGERPRINT;
  const certFile = process.env.HUSKIES_SERVER_CERT || localCertFile();
  if (!certFile) return undefined;
  try {
    return certificateFingerprint(readFileSync(certFile));
  } catch (err) {
    throw new UserError(`cannot read the server certificate ${certFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function localCertFile(): string | undefined {
  const root = findProjectRoot(process.cwd());
  if (!root || !existsSync(projectConfigPath(root))) return undefined;
  try {
    const cert = loadProjectConfig(root).tls?.cert;
    return cert && existsSync(resolve(root, cert)) ? resolve(root, cert) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pin for `base`. A pin the user set (`HUSKIES_SERVER_FINGERPRINT`, `HUSKIES_SERVER_CERT`)
 * with an http:// server is an error: the token would travel in clear and the pin mean nothing.
 */
function pinFor(base: string): string | undefined {
  if (base.startsWith("https:")) return serverFingerprint();
  if (process.env.HUSKIES_SERVER_FINGERPRINT || process.env.HUSKIES_SERVER_CERT) {
    throw new UserError(`refusing ${base}: a certificate pin (HUSKIES_SERVER_FINGERPRINT or HUSKIES_SERVER_CERT) needs an https:// server`);
  }
  return undefined;
}

/** The bearer this client presents: the admin token, else the node token. */
export function authHeaders(): Record<string, string> {
  const token = process.env.HUSKIES_ADMIN_TOKEN || process.env.HUSKIES_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Call the REST API; an error response becomes a UserError carrying the server's message.
 * Every write carries a JSON body (`{}` when there is nothing to say): the server takes writes
 * only as `application/json`, which is what keeps cross-site form posts out. Over https a
 * pinned certificate (see serverFingerprint) is checked before the token is sent.
 */
export async function api<T>(base: string, method: string, path: string, body?: unknown, onChunk?: (chunk: Buffer) => void): Promise<T> {
  return request<T>(base, method, path, body, {}, onChunk);
}

/**
 * A create that is safe to repeat: it carries an `Idempotency-Key`, and a 503 (not acknowledged;
 * it may still land) or a lost connection is tried again with the same key for up to
 * `CREATE_RETRY_MS`, so the server answers with the item it made the first time rather than a
 * second one.
 */
export async function createOnce<T>(base: string, path: string, body: unknown): Promise<T> {
  const key = randomUUID();
  const deadline = performance.now() + CREATE_RETRY_MS;
  for (let delay = 500; ; delay = Math.min(delay * 2, 4000)) {
    try {
      return await request<T>(base, "POST", path, body, { "idempotency-key": key });
    } catch (err) {
      const retryable = err instanceof Unacknowledged || err instanceof MayHaveLanded;
      if (!retryable || performance.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** How long `createOnce` keeps trying a create the server did not acknowledge. */
const CREATE_RETRY_MS = 20_000;

/** A 503: not acknowledged, and it may still land. */
class Unacknowledged extends UserError {}
/** The request was sent and no answer came (a timeout, a reset): it may have landed. */
class MayHaveLanded extends UserError {}

/** Errors that mean the request never reached a server (nothing to repeat safely… or needed). */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

async function request<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
  onChunk?: (chunk: Buffer) => void,
): Promise<T> {
  const write = method !== "GET" && method !== "HEAD";
  const fingerprint = pinFor(base);
  let res;
  try {
    res = await pinnedRequest<unknown>(`${base}${path}`, {
      method,
      headers: { ...authHeaders(), ...extra },
      body: write ? (body ?? {}) : undefined,
      fingerprint,
      timeoutMs: 30_000,
      onChunk,
    });
  } catch (err) {
    if (err instanceof PinMismatchError) throw new UserError(`refusing ${base}: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    const tlsHint =
      code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)
        ? ` (${code}: for a self-signed certificate set HUSKIES_SERVER_CERT=cert.pem or HUSKIES_SERVER_FINGERPRINT)`
        : "";
    if (tlsHint) throw new UserError(`cannot reach a huskies server at ${base}${tlsHint}`);
    const Err = code && NEVER_SENT.has(code) ? UserError : MayHaveLanded;
    throw new Err(`cannot reach a huskies server at ${base} (start one with \`huskies serve\`)`);
  }
  if (res.status >= 300) {
    const b = res.body as { error?: string; reason?: string } | string;
    const message = typeof b === "object" && b?.error ? (b.reason ? `${b.error}: ${b.reason}` : b.error) : res.text;
    throw new (res.status === 503 ? Unacknowledged : UserError)(message || `${method} ${path} failed with HTTP ${res.status}`);
  }
  return (res.text ? res.body : res.text) as T;
}
