import Database from "better-sqlite3";
import type { ReplicaStore } from "./replica-store.js";

/**
 * A replica in one SQLite file (WAL): an append-only `updates` log plus a `snapshot` row.
 * `synchronous = NORMAL` in WAL mode keeps every committed row across a process crash
 * (SIGKILL); only a power loss may drop the last transactions, which sync repairs from peers.
 */
export class SqliteStore implements ReplicaStore {
  readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL);
    `);
    this.insert = this.db.prepare("INSERT INTO updates (data) VALUES (?)");
  }

  load(): Uint8Array[] {
    const snap = this.db.prepare("SELECT data FROM snapshot WHERE id = 1").get() as { data: Buffer } | undefined;
    // huskies once replayed its op log out of order and lost writes: order by the sequence assigned at append.
    const rows = this.db.prepare("SELECT data FROM updates ORDER BY seq").all() as { data: Buffer }[];
    return [...(snap ? [snap.data] : []), ...rows.map((r) => r.data)].map((b) => new Uint8Array(b));
  }

  append(update: Uint8Array): void {
    this.insert.run(Buffer.from(update));
  }

  pendingCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM updates").get() as { n: number }).n;
  }

  compact(snapshot: Uint8Array): void {
    // One transaction: a crash leaves either the old snapshot + rows or the new snapshot, never neither.
    this.db.transaction(() => {
      const upto = (this.db.prepare("SELECT MAX(seq) AS m FROM updates").get() as { m: number | null }).m;
      if (upto === null) return;
      this.db.prepare("INSERT OR REPLACE INTO snapshot (id, data) VALUES (1, ?)").run(Buffer.from(snapshot));
      this.db.prepare("DELETE FROM updates WHERE seq <= ?").run(upto);
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Side tables that live next to the replica (join tokens, admitted keys). Not part of the CRDT. */
export function openLocalTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS join_tokens (hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used_at INTEGER, used_by TEXT);
    CREATE TABLE IF NOT EXISTS admitted_keys (key TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL);
  `);
}
