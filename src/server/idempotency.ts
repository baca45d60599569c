import { createHash } from "node:crypto";
import type Database from "better-sqlite3";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import { IDEMPOTENCY_TTL_SECS } from "../config/defaults.js";
import { idempotencyKeyProblem, replayVerdict, type RememberedAnswer } from "../pipeline/idempotency-rule.js";

/**
 * `Idempotency-Key` for REST creates (docs/architecture.md, "Faults": a 503 means not
 * acknowledged, and it may still land). A client that repeats a create with the same key gets the
 * first answer instead of a second item: the item and the status the handler produced, even when
 * that first answer became a 503 because the store could not persist the write yet (the replica
 * keeps it and writes it later). Answers are kept in SQLite beside the replica for 24 h; one the
 * store cannot take right now waits in memory and is written when the store works again, the same
 * way the replica's own updates are (and is lost with them if the process dies first).
 */
export class IdempotencyKeys {
  private readonly waiting = new Map<string, RememberedAnswer>();
  private readonly inFlight = new Map<string, string>();

  constructor(
    private readonly db: Database.Database,
    private readonly log: Logger,
    /**
     * Whether what the answer describes is persisted (the replica has no updates waiting): a key
     * is never written before its item, so a crash can lose both but never keep a key to nothing.
     */
    private readonly persisted: () => boolean = () => true,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = IDEMPOTENCY_TTL_SECS * 1000,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS idempotency_keys (
      key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);`);
  }

  /** The remembered answer for `key`, if one is younger than 24 h. */
  get(key: string): RememberedAnswer | undefined {
    const cutoff = this.now() - this.ttlMs;
    const mem = this.waiting.get(key);
    if (mem) return mem.createdAt >= cutoff ? mem : undefined;
    try {
      const row = this.db
        .prepare("SELECT fingerprint, status, body, created_at AS createdAt FROM idempotency_keys WHERE key = ? AND created_at >= ?")
        .get(key, cutoff) as RememberedAnswer | undefined;
      return row;
    } catch (err) {
      // A locked store: the key may have been remembered; answer as if busy rather than create twice.
      throw Object.assign(new Error(`cannot read idempotency keys: ${(err as Error).message}`), { status: 503 });
    }
  }

  remember(key: string, answer: RememberedAnswer): void {
    this.waiting.set(key, answer);
    this.flush();
  }

  /** Write what waits (called after each answer and when the replica store is writable again). */
  flush(): void {
    if (this.waiting.size === 0 || !this.persisted()) return;
    try {
      const insert = this.db.prepare(
        "INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?)",
      );
      this.db.transaction(() => {
        for (const [key, a] of this.waiting) insert.run(key, a.fingerprint, a.status, a.body, a.createdAt);
        this.db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?").run(this.now() - this.ttlMs);
      })();
      this.waiting.clear();
    } catch (err) {
      this.log.debug({ err: (err as Error).message, waiting: this.waiting.size }, "idempotency keys wait for the store");
    }
  }

  /** Hono middleware for one create route: replays a remembered answer, remembers a new 2xx. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const key = c.req.header("idempotency-key");
      if (key === undefined) return next();
      const problem = idempotencyKeyProblem(key);
      if (problem) return c.json({ error: problem }, 400);
      const fingerprint = createHash("sha256")
        .update(`${c.req.method} ${new URL(c.req.url).pathname}\n`)
        .update(await c.req.text())
        .digest("hex");
      const verdict = replayVerdict(this.get(key), this.inFlight.get(key), fingerprint);
      if (verdict.kind === "conflict") return c.json({ error: verdict.error }, verdict.status);
      if (verdict.kind === "replay") {
        return c.body(verdict.answer.body, verdict.answer.status as 201, {
          "content-type": "application/json",
          "idempotent-replayed": "true",
        });
      }
      this.inFlight.set(key, fingerprint);
      try {
        await next();
        if (c.res.status >= 200 && c.res.status < 300) {
          const body = await c.res.clone().text();
          this.remember(key, { fingerprint, status: c.res.status, body, createdAt: this.now() });
        }
      } finally {
        this.inFlight.delete(key);
      }
    };
  }
}
