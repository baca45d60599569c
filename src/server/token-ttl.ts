import { JOIN_TOKEN_TTL_SECS, MAX_TOKEN_TTL_SECS } from "../config/defaults.js";

/**
 * The lifetime asked for a join token: absent means the default; otherwise a positive, finite
 * number of seconds up to the cap (`ttlSecs: 1e306` must not mint a token that never expires).
 */
export function tokenTtl(value: unknown): { ok: true; secs: number } | { ok: false; error: string } {
  if (value === undefined) return { ok: true, secs: JOIN_TOKEN_TTL_SECS };
  if (typeof value === "number" && Number.isFinite(value) && value > 0 && value <= MAX_TOKEN_TTL_SECS) return { ok: true, secs: value };
  return { ok: false, error: `ttlSecs must be a positive number of seconds, at most ${MAX_TOKEN_TTL_SECS} (30 days)` };
}
