import Database from "better-sqlite3";
import { UserError } from "../errors.js";

/**
 * The backup format: **one SQLite file**. It is the online copy of the node's `replica.db`
 * (every table, as SQLite copied it) plus two tables of its own:
 *
 * - `huskies_backup_meta (key, value)`: `format` (`huskies-backup-v1`), `nodeId`, `createdAt`
 *   (ms), `version` (of huskies), `source` (the project it came from), `items`, `role`;
 * - `huskies_backup_files (name, mode, data)`: the other files of `.huskies/` (node-state.ts).
 *
 * Why SQLite rather than a tar or JSON archive: the replica already is a SQLite file and SQLite's
 * online backup produces one, so the backup adds no dependency and no second encoding of the
 * replica; the file is checked by SQLite itself (`PRAGMA quick_check`) before a restore trusts
 * it, and an operator can inspect it with any `sqlite3` shell.
 */
export const BACKUP_FORMAT = "huskies-backup-v1";
const META = "huskies_backup_meta";
const FILES = "huskies_backup_files";

export interface BackupMeta {
  format: string;
  nodeId: string;
  createdAt: number;
  version: string;
  source: string;
  items: number;
  role: string;
}

export interface BackupEntry {
  name: string;
  mode: number;
  data: Buffer;
}

/** Add the meta and file tables to a fresh replica copy (see copyReplicaOnline). */
export function writeBackupTables(file: string, meta: BackupMeta, files: BackupEntry[]): void {
  const db = new Database(file);
  try {
    db.transaction(() => {
      db.exec(`CREATE TABLE ${META} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
               CREATE TABLE ${FILES} (name TEXT PRIMARY KEY, mode INTEGER NOT NULL, data BLOB NOT NULL);`);
      const m = db.prepare(`INSERT INTO ${META} (key, value) VALUES (?, ?)`);
      for (const [k, v] of Object.entries(meta)) m.run(k, String(v));
      const f = db.prepare(`INSERT INTO ${FILES} (name, mode, data) VALUES (?, ?, ?)`);
      for (const e of files) f.run(e.name, e.mode, e.data);
    })();
  } finally {
    db.close();
  }
}

/** Whether `file` is a huskies backup (used before overwriting it). Never throws. */
export function isBackupFile(file: string): boolean {
  try {
    readBackup(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Read and check a backup: a SQLite file that passes `quick_check`, of this format, with a
 * node key. Anything else is a `UserError` naming the file and the reason.
 */
export function readBackup(file: string): { meta: BackupMeta; files: BackupEntry[] } {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new UserError(`cannot read backup ${file}: ${(err as Error).message}`);
  }
  try {
    const bad = (why: string) => new UserError(`${file} is not a huskies backup: ${why}`);
    let check: string;
    try {
      check = String(db.pragma("quick_check", { simple: true }));
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (check !== "ok") throw new UserError(`backup ${file} is damaged: ${check.slice(0, 200)}`);
    const hasTable = (t: string) => !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t);
    if (!hasTable(META) || !hasTable(FILES)) throw bad("it has no huskies_backup tables");
    const rows = db.prepare(`SELECT key, value FROM ${META}`).all() as Array<{ key: string; value: string }>;
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (m.format !== BACKUP_FORMAT) throw bad(`format ${JSON.stringify(m.format ?? null)}, this huskies reads ${BACKUP_FORMAT}`);
    if (!/^[0-9a-f]{64}$/.test(m.nodeId ?? "")) throw bad("its node id is missing");
    const meta: BackupMeta = {
      format: m.format,
      nodeId: m.nodeId!,
      createdAt: Number(m.createdAt),
      version: m.version ?? "",
      source: m.source ?? "",
      items: Number(m.items ?? 0),
      role: m.role ?? "",
    };
    const files = (db.prepare(`SELECT name, mode, data FROM ${FILES} ORDER BY name`).all() as BackupEntry[]).filter((f) => {
      // A name is one plain file name: nothing a restore could write outside `.huskies/`.
      if (!/^[A-Za-z0-9._-]+$/.test(f.name) || f.name === "." || f.name === "..") throw bad(`it names a file ${JSON.stringify(f.name)}`);
      return true;
    });
    if (!files.some((f) => f.name === "node.key")) throw bad("it holds no node.key");
    if (!hasTable("updates")) throw bad("it holds no replica");
    return { meta, files };
  } finally {
    db.close();
  }
}

/** Turn a copy of a backup back into a replica: drop the backup's own tables, back to WAL. */
export function stripBackupTables(file: string): void {
  const db = new Database(file);
  try {
    db.exec(`DROP TABLE IF EXISTS ${META}; DROP TABLE IF EXISTS ${FILES};`);
    db.exec("VACUUM");
    db.pragma("journal_mode = WAL");
  } finally {
    db.close();
  }
}
