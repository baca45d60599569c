import { createHash, randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { openLocalTables } from "../state/sqlite-store.js";

export type ConsumeResult = { ok: true } | { ok: false; reason: "unknown token" | "token already used" | "token expired" };

/**
 * One-time join tokens. Only a hash is stored, so the database never holds a usable secret.
 * Consuming is one UPDATE guarded by `used_at IS NULL`: two racing uses cannot both win.
 */
export class JoinTokenStore {
  constructor(private readonly db: Database.Database) {
    openLocalTables(db);
  }

  create(ttlSecs: number, now = Date.now()): { token: string; expiresAt: number } {
    const token = `hj_${randomBytes(24).toString("base64url")}`;
    const expiresAt = now + Math.round(ttlSecs * 1000);
    this.db.prepare("INSERT INTO join_tokens (hash, expires_at) VALUES (?, ?)").run(hash(token), expiresAt);
    return { token, expiresAt };
  }

  consume(token: string, usedBy: string, now = Date.now()): ConsumeResult {
    const h = hash(token);
    const res = this.db
      .prepare("UPDATE join_tokens SET used_at = ?, used_by = ? WHERE hash = ? AND used_at IS NULL AND expires_at >= ?")
      .run(now, usedBy, h, now);
    if (res.changes === 1) return { ok: true };
    const row = this.db.prepare("SELECT expires_at, used_at FROM join_tokens WHERE hash = ?").get(h) as
      { expires_at: number; used_at: number | null } | undefined;
    if (!row) return { ok: false, reason: "unknown token" };
    if (row.used_at !== null) return { ok: false, reason: "token already used" };
    return { ok: false, reason: "token expired" };
  }

  /**
   * Give a consumed token back (only to the key that used it): the gateway does this when the
   * project it was to admit that key in could not be reached, so the agent can simply retry.
   */
  release(token: string, usedBy: string): boolean {
    return (
      this.db.prepare("UPDATE join_tokens SET used_at = NULL, used_by = NULL WHERE hash = ? AND used_by = ?").run(hash(token), usedBy)
        .changes === 1
    );
  }

  /** The stored hash of a token (other tables key on it so no usable secret is stored). */
  static hashOf(token: string): string {
    return hash(token);
  }

  admitKey(key: string, now = Date.now()): void {
    this.db.prepare("INSERT OR IGNORE INTO admitted_keys (key, admitted_at) VALUES (?, ?)").run(key, now);
  }

  /** Drop a key's join admission (it was revoked). */
  forget(key: string): void {
    this.db.prepare("DELETE FROM admitted_keys WHERE key = ?").run(key);
  }

  /** Admitted by a join token (or the gateway), and, with `ttlMs`, connected within that long. */
  isAdmitted(key: string, now = Date.now(), ttlMs?: number): boolean {
    const row = this.db.prepare("SELECT admitted_at FROM admitted_keys WHERE key = ?").get(key) as { admitted_at: number } | undefined;
    return !!row && (ttlMs === undefined || now - row.admitted_at <= ttlMs);
  }

  /** The key connected now: its admission runs `admission_ttl` from here. */
  touch(key: string, now = Date.now()): void {
    this.db.prepare("UPDATE admitted_keys SET admitted_at = ? WHERE key = ?").run(now, key);
  }
}

function hash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
