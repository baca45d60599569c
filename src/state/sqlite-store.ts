import { existsSync, renameSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { STORE_BUSY_TIMEOUT_MS } from "../config/defaults.js";
import { UserError } from "../errors.js";
import type { LogSize } from "./compaction-policy.js";
import { StoreWriteError, type ReplicaStore } from "./replica-store.js";

/**
 * A replica in one SQLite file (WAL): an append-only `updates` log plus a `snapshot` row.
 * `synchronous = NORMAL` in WAL mode keeps every committed row across a process crash
 * (SIGKILL); only a power loss may drop the last transactions, which sync repairs from peers.
 * A locked file fails an append after `STORE_BUSY_TIMEOUT_MS` instead of better-sqlite3's 5 s,
 * so a lock held elsewhere never freezes the event loop; the replica retries.
 */
export class SqliteStore implements ReplicaStore {
  readonly db: Database.Database;
  suspect: string | undefined;
  private readonly insert: Database.Statement;
  private readonly size: LogSize;
  /** What `openSqliteStore` already read to check the file, handed to the first `load`. */
  private preloaded: Uint8Array[] | undefined;

  constructor(
    readonly file: string,
    opts: { busyTimeoutMs?: number } = {},
  ) {
    this.db = new Database(file, { timeout: opts.busyTimeoutMs ?? STORE_BUSY_TIMEOUT_MS });
    try {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL);
      `);
      this.insert = this.db.prepare("INSERT INTO updates (data) VALUES (?)");
      const log = this.db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(data)), 0) AS b FROM updates").get() as {
        n: number;
        b: number;
      };
      const snap = this.db.prepare("SELECT LENGTH(data) AS b FROM snapshot WHERE id = 1").get() as { b: number } | undefined;
      this.size = { rows: log.n, logBytes: log.b, snapshotBytes: snap?.b ?? 0 };
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  load(): Uint8Array[] {
    if (this.preloaded) {
      const rows = this.preloaded;
      this.preloaded = undefined;
      return rows;
    }
    const snap = this.db.prepare("SELECT data FROM snapshot WHERE id = 1").get() as { data: Buffer } | undefined;
    // huskies once replayed its op log out of order and lost writes: order by the sequence assigned at append.
    const rows = this.db.prepare("SELECT data FROM updates ORDER BY seq").all() as { data: Buffer }[];
    return [...(snap ? [snap.data] : []), ...rows.map((r) => r.data)].map((b) => new Uint8Array(b));
  }

  append(update: Uint8Array): void {
    try {
      this.insert.run(Buffer.from(update));
    } catch (err) {
      throw asWriteError(err, "append");
    }
    this.size.rows += 1;
    this.size.logBytes += update.byteLength;
  }

  logSize(): LogSize {
    return { ...this.size };
  }

  compact(snapshot: Uint8Array): void {
    try {
      // One transaction: a crash leaves either the old snapshot + rows or the new snapshot, never neither.
      this.db.transaction(() => {
        const upto = (this.db.prepare("SELECT MAX(seq) AS m FROM updates").get() as { m: number | null }).m;
        if (upto === null) return;
        this.db.prepare("INSERT OR REPLACE INTO snapshot (id, data) VALUES (1, ?)").run(Buffer.from(snapshot));
        this.db.prepare("DELETE FROM updates WHERE seq <= ?").run(upto);
      })();
    } catch (err) {
      throw asWriteError(err, "compact");
    }
    // This process is the only writer, so nothing was appended after `upto`.
    Object.assign(this.size, { rows: 0, logBytes: 0, snapshotBytes: snapshot.byteLength });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Internal to `openSqliteStore`. */
  preload(rows: Uint8Array[]): void {
    this.preloaded = rows;
  }
}

function asWriteError(err: unknown, what: string): StoreWriteError {
  const e = err as { code?: string; message?: string };
  return new StoreWriteError(`${what} failed: ${e.code ?? "error"}: ${e.message ?? String(err)}`, e.code);
}

/** SQLite codes that mean "this file is not a readable database", as opposed to "cannot reach it now". */
const DAMAGED = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_VTAB", "SQLITE_CORRUPT_SEQUENCE"]);

/**
 * Open the replica file the way a node must: a damaged file (not a database, corrupt pages) is
 * moved aside to `<file>.corrupt-<ms>` (with its WAL) and replaced by an empty store; a 0-byte
 * file or one without replica data is used but reported. Either way `store.suspect` says why the
 * replica may be missing what it once held. Anything else (permissions, a directory) is a
 * `UserError` naming the file.
 */
export function openSqliteStore(
  file: string,
  opts: { now?: () => number; warn?: (msg: string, fields: Record<string, unknown>) => void } = {},
): SqliteStore {
  const existed = existsSync(file);
  const zeroBytes = existed && statSync(file).isFile() && statSync(file).size === 0;
  let suspect: string | undefined;
  let store: SqliteStore;
  try {
    store = new SqliteStore(file);
    store.preload(store.load());
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (!DAMAGED.has(code)) throw new UserError(`cannot open replica ${file}: ${(err as Error).message}`);
    const aside = `${file}.corrupt-${(opts.now ?? Date.now)()}`;
    for (const suffix of ["", "-wal", "-shm"]) {
      if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
    }
    suspect = `${file} was unreadable (${code}); moved to ${aside} and started empty`;
    store = new SqliteStore(file);
  }
  if (!suspect && zeroBytes) suspect = `${file} was empty (0 bytes); started empty`;
  if (!suspect && existed && store.logSize().rows === 0 && !hasSnapshot(store)) suspect = `${file} held no replica data; started empty`;
  if (suspect) {
    store.suspect = suspect;
    opts.warn?.("replica store suspect: waiting for a sync before trusting it", { file, reason: suspect });
  }
  return store;
}

function hasSnapshot(store: SqliteStore): boolean {
  return !!store.db.prepare("SELECT 1 FROM snapshot WHERE id = 1").get();
}

/** Side tables that live next to the replica (join tokens, admitted keys). Not part of the CRDT. */
export function openLocalTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS join_tokens (hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used_at INTEGER, used_by TEXT);
    CREATE TABLE IF NOT EXISTS admitted_keys (key TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS revoked_keys (key TEXT PRIMARY KEY, entry TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS trust_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
}
