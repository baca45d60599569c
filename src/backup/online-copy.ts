import { closeSync, existsSync, openSync, rmSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { UserError } from "../errors.js";

/** SQLite's largest page count per step: the whole database in one step (see `copyReplicaOnline`). */
const ALL_PAGES = 0x7fffffff;

/**
 * Copy the SQLite file `source` to `dest` with SQLite's online backup API while another process
 * (the running node) keeps writing to it. The copy is one consistent state of the database, and
 * that state includes every transaction committed before this call began:
 *
 * - the replica is in WAL mode, so a reader never blocks the node's writes and sees every
 *   transaction committed before its read began;
 * - the whole database is copied in a single backup step, which holds one read transaction for
 *   the copy (a copy in many steps restarts whenever the node commits in between, and on a busy
 *   node may never finish).
 *
 * `dest` is created with mode 600 before SQLite opens it (a replica holds the join-token and
 * admission tables; the caller may add secrets). The copy is left in rollback-journal mode, so
 * it is one self-contained file. Returns the copied page count.
 */
export async function copyReplicaOnline(source: string, dest: string): Promise<{ pages: number }> {
  if (!existsSync(source) || !statSync(source).isFile()) throw new UserError(`no replica to copy: ${source} does not exist`);
  rmSync(dest, { force: true });
  closeSync(openSync(dest, "wx", 0o600));
  let db: Database.Database;
  try {
    db = new Database(source, { fileMustExist: true, timeout: 5000 });
  } catch (err) {
    rmSync(dest, { force: true });
    throw new UserError(`cannot open ${source}: ${(err as Error).message}`);
  }
  try {
    const done = await db.backup(dest, { progress: () => ALL_PAGES });
    const copy = new Database(dest);
    try {
      // The copy carries the source's WAL flag in its header; a backup file must not need a -wal beside it.
      copy.pragma("journal_mode = DELETE");
    } finally {
      copy.close();
    }
    return { pages: done.totalPages };
  } catch (err) {
    rmSync(dest, { force: true });
    throw new UserError(`copying ${source} failed: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}
