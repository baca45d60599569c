import type Database from "better-sqlite3";
import { openLocalTables } from "../state/sqlite-store.js";

/**
 * What a node keeps about trust in its own SQLite, beside the replica and never in the shared
 * document, so no peer can make it forget: every verified revocation, the last operator directive
 * it applied, one-time markers. A write that fails (a lock held elsewhere) is logged by the caller
 * and tried again on the next event; reads never throw.
 */
export class TrustState {
  constructor(private readonly db: Database.Database) {
    openLocalTables(db);
  }

  get(name: string): string | undefined {
    try {
      return (this.db.prepare("SELECT value FROM trust_state WHERE name = ?").get(name) as { value: string } | undefined)?.value;
    } catch {
      return undefined;
    }
  }

  set(name: string, value: string): void {
    this.db
      .prepare("INSERT INTO trust_state (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value")
      .run(name, value);
  }

  /** Revocations kept: node id → the signed entry as verified. */
  revoked(): Map<string, unknown> {
    const out = new Map<string, unknown>();
    try {
      for (const row of this.db.prepare("SELECT key, entry FROM revoked_keys").all() as Array<{ key: string; entry: string }>) {
        try {
          out.set(row.key, JSON.parse(row.entry));
        } catch {
          /* a damaged row: the entry in the document (or the rendezvous) brings it back */
        }
      }
    } catch {
      /* unreadable: what the document holds still counts */
    }
    return out;
  }

  keepRevocation(key: string, entry: unknown): void {
    this.db
      .prepare("INSERT INTO revoked_keys (key, entry) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET entry = excluded.entry")
      .run(key, JSON.stringify(entry));
  }
}
