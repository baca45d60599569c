import type { StoreUnavailable } from "../state/replica-store.js";

/** What the guard needs of the replica. */
export interface WriteGate {
  readonly writable: boolean;
  /** Throws `StoreUnavailable` while updates wait to be persisted. */
  assertWritable(): void;
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Never acknowledge what is not persisted: a write request (`/api/*`, `/mcp`, any method but
 * GET/HEAD/OPTIONS) gets 503 with the store's reason while the replica store fails, and a write
 * whose update could not be appended gets 503 instead of its 2xx (the replica keeps it and
 * retries; the client was told nothing was stored and may repeat it).
 * Wraps the fetch handler so it sees every route, whichever module defines it.
 */
export function guardWrites<A extends unknown[]>(
  gate: WriteGate,
  fetch: (req: Request, ...rest: A) => Response | Promise<Response>,
): (req: Request, ...rest: A) => Promise<Response> {
  return async (req, ...rest) => {
    if (READ_METHODS.has(req.method) || !isGuarded(new URL(req.url).pathname)) return fetch(req, ...rest);
    const refused = check(gate);
    if (refused) return refused;
    const res = await fetch(req, ...rest);
    if (res.status < 200 || res.status >= 300) return res;
    return check(gate) ?? res;
  };
}

function isGuarded(path: string): boolean {
  return path.startsWith("/api/") || path === "/mcp" || path.startsWith("/mcp/");
}

function check(gate: WriteGate): Response | undefined {
  if (gate.writable) return undefined;
  let reason = "the replica store is not accepting writes";
  let error = "replica store unavailable: the write was not acknowledged";
  try {
    gate.assertWritable();
  } catch (err) {
    reason = (err as StoreUnavailable).reason ?? (err as Error).message;
    error = (err as StoreUnavailable).headline ?? error;
  }
  return new Response(JSON.stringify({ error, reason }), {
    status: 503,
    headers: { "content-type": "application/json", "retry-after": "1" },
  });
}
