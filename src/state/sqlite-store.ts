import { existsSync, renameSync, statSync } from "node:fs";
import { crc32 } from "node:zlib";
import Database from "better-sqlite3";
import { STORE_BUSY_TIMEOUT_MS } from "../config/defaults.js";
import { UserError } from "../errors.js";
import type { LogSize } from "./compaction-policy.js";
import { StoreWriteError, type ReplicaStore } from "./replica-store.js";

/**
 * A row whose bytes are not what was written (its checksum differs): the file is damaged even
 * though SQLite can read it (flipped bits inside a blob break no page structure).
 */
export class DamagedRow extends Error {
  readonly code = "HUSKIES_DAMAGED_ROW";
}

/** CRC-32 of a row: cheap (a 4 MB snapshot in ~1 ms) and certain to catch flipped bytes. */
function sumOf(data: Uint8Array): number {
  return crc32(data);
}

/**
 * A replica in one SQLite file (WAL): an append-only `updates` log plus a `snapshot` row, each
 * row with the CRC-32 of its bytes (`sum`; rows written before checksums have none).
 * `synchronous = NORMAL` in WAL mode keeps every committed row across a process crash
 * (SIGKILL); only a power loss may drop the last transactions, which sync repairs from peers.
 * A locked file fails an append after `STORE_BUSY_TIMEOUT_MS` instead of better-sqlite3's 5 s,
 * so a lock held elsewhere never freezes the event loop; the replica retries.
 */
export class SqliteStore implements ReplicaStore {
  db!: Database.Database;
  suspect: string | undefined;
  private insert!: Database.Statement;
  private size!: LogSize;
  /** What `openSqliteStore` already read to check the file, handed to the first `load`. */
  private preloaded: Uint8Array[] | undefined;
  private readonly busyTimeoutMs: number;

  constructor(
    readonly file: string,
    opts: { busyTimeoutMs?: number } = {},
  ) {
    this.busyTimeoutMs = opts.busyTimeoutMs ?? STORE_BUSY_TIMEOUT_MS;
    this.open();
  }

  private open(): void {
    this.db = new Database(this.file, { timeout: this.busyTimeoutMs });
    try {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL, sum INTEGER);
        CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL, sum INTEGER);
      `);
      // A file from before checksums: add the column; its old rows stay unchecked (NULL).
      for (const table of ["updates", "snapshot"]) {
        const cols = this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
        if (!cols.some((c) => c.name === "sum")) this.db.exec(`ALTER TABLE ${table} ADD COLUMN sum INTEGER`);
      }
      this.insert = this.db.prepare("INSERT INTO updates (data, sum) VALUES (?, ?)");
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
    type Row = { data: Buffer; sum: number | null; seq?: number };
    const snap = this.db.prepare("SELECT data, sum FROM snapshot WHERE id = 1").get() as Row | undefined;
    // huskies once replayed its op log out of order and lost writes: order by the sequence assigned at append.
    const rows = this.db.prepare("SELECT seq, data, sum FROM updates ORDER BY seq").all() as Row[];
    const out: Uint8Array[] = [];
    for (const r of [...(snap ? [snap] : []), ...rows]) {
      if (r.sum !== null && r.sum !== sumOf(r.data)) {
        throw new DamagedRow(`${r.seq === undefined ? "the snapshot" : `update ${r.seq}`} does not match its checksum`);
      }
      out.push(new Uint8Array(r.data));
    }
    return out;
  }

  append(update: Uint8Array): void {
    try {
      this.insert.run(Buffer.from(update), sumOf(update));
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
        this.db.prepare("INSERT OR REPLACE INTO snapshot (id, data, sum) VALUES (1, ?, ?)").run(Buffer.from(snapshot), sumOf(snapshot));
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

  /** Clock for the name of a moved-aside file (set by `openSqliteStore`). */
  now: (() => number) | undefined;

  /**
   * The replica found a row it cannot apply: move the whole file aside (nothing in it is trusted
   * any more; an operator can recover from the copy) and go on with an empty file in its place.
   */
  quarantine(why: string): string {
    this.db.close();
    const aside = moveAside(this.file, this.now);
    this.open();
    keepSideTables(this.db, aside);
    this.preloaded = undefined;
    this.suspect = `${this.file} held a damaged row (${why}); moved to ${aside} and started empty`;
    return this.suspect;
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

/** Codes that mean "this file does not hold what was written", as opposed to "cannot reach it now". */
const DAMAGED = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_VTAB", "SQLITE_CORRUPT_SEQUENCE", "HUSKIES_DAMAGED_ROW"]);

/**
 * Open the replica file the way a node must: a damaged file (not a database, corrupt pages) is
 * moved aside to `<file>.corrupt-<ms>` (with its WAL) and replaced by an empty store; a 0-byte
 * file or one without replica data is used but reported. Either way `store.suspect` says why the
 * replica may be missing what it once held. Anything else (permissions, a directory) is a
 * `UserError` naming the file.
 */
export function openSqliteStore(
  file: string,
  opts: {
    now?: () => number;
    warn?: (msg: string, fields: Record<string, unknown>) => void;
    /** This node ran here before (its key exists): a missing file means a lost replica. */
    expectData?: boolean;
  } = {},
): SqliteStore {
  const existed = existsSync(file);
  const zeroBytes = existed && statSync(file).isFile() && statSync(file).size === 0;
  let suspect: string | undefined;
  let store: SqliteStore;
  try {
    store = new SqliteStore(file);
    try {
      store.preload(store.load());
    } catch (err) {
      store.close(); // before the file is moved: no handle may keep writing to it
      throw err;
    }
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (!DAMAGED.has(code)) throw new UserError(`cannot open replica ${file}: ${(err as Error).message}`);
    const aside = moveAside(file, opts.now);
    suspect = `${file} was unreadable (${code}: ${(err as Error).message}); moved to ${aside} and started empty`;
    store = new SqliteStore(file);
    // Damaged replica rows leave SQLite itself readable: keep join tokens, admitted keys and the like.
    if (err instanceof DamagedRow) keepSideTables(store.db, aside);
  }
  store.now = opts.now;
  if (!suspect && !existed && opts.expectData)
    suspect = `${file} is missing although this node ran here before (its node.key exists); started empty`;
  if (!suspect && zeroBytes) suspect = `${file} was empty (0 bytes); started empty`;
  if (!suspect && existed && store.logSize().rows === 0 && !hasSnapshot(store)) suspect = `${file} held no replica data; started empty`;
  if (suspect) {
    store.suspect = suspect;
    opts.warn?.("replica store suspect: waiting for a sync before trusting it", { file, reason: suspect });
  }
  return store;
}

/** Move a damaged replica file (with its WAL) to `<file>.corrupt-<ms>`; returns the new name. */
function moveAside(file: string, now: () => number = Date.now): string {
  const aside = `${file}.corrupt-${now()}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
  }
  return aside;
}

/**
 * Copy the tables that live beside the replica (join tokens, admitted keys, idempotency keys, …)
 * from a moved-aside file, when it can still be read: only the replica rows were damaged.
 */
function keepSideTables(db: Database.Database, aside: string): void {
  try {
    db.prepare("ATTACH DATABASE ? AS aside").run(aside);
    try {
      const tables = db
        .prepare(
          "SELECT name, sql FROM aside.sqlite_master WHERE type = 'table' AND name NOT IN ('updates', 'snapshot') AND name NOT LIKE 'sqlite_%'",
        )
        .all() as Array<{ name: string; sql: string }>;
      for (const t of tables) {
        db.exec(t.sql.replace(/^CREATE TABLE\s+/i, "CREATE TABLE IF NOT EXISTS "));
        db.exec(`INSERT OR IGNORE INTO main."${t.name.replace(/"/g, '""')}" SELECT * FROM aside."${t.name.replace(/"/g, '""')}"`);
      }
    } finally {
      db.exec("DETACH DATABASE aside");
    }
  } catch {
    // The copy is a courtesy: the aside file keeps everything for an operator.
  }
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
