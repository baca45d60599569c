import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { huskiesDir } from "../config/project-root.js";
import { UserError } from "../errors.js";
import { nodeIdOfKeyFile } from "../trust/identity.js";
import { readBackup, stripBackupTables, type BackupMeta } from "./backup-file.js";
import { CONFIG_FILES, NODE_KEY_FILE, nodeStateIn, REPLICA_FILE } from "./node-state.js";
import { summarizeReplica, type ReplicaSummary } from "./replica-summary.js";

export interface RestoreResult {
  dir: string;
  meta: BackupMeta;
  items: number;
  byStage: ReplicaSummary["byStage"];
  /** Configuration files the checkout already had and kept, although the backup's differ. */
  kept: string[];
}

/**
 * `huskies restore FILE [DIR]`: put a backup back into `DIR/.huskies`, which must hold no node
 * state (a fresh checkout's committed configuration may be there, and is kept: the checkout's
 * own files win over the backup's copies). Everything is written into a staging directory first
 * and moved into place only once the backup checked out whole (SQLite's check, a key that
 * matches the recorded node id), so a bad backup leaves `.huskies` as it was.
 *
 * The replica is restored as it was backed up; a node migrates it to the current document
 * shape when it opens it, as it does its own replica after an upgrade.
 */
export function restoreBackup(fileArg: string, dirArg: string | undefined): RestoreResult {
  const file = resolve(fileArg);
  if (!existsSync(file)) throw new UserError(`no such backup: ${file}`);
  const { meta, files } = readBackup(file);
  const root = resolve(dirArg ?? ".");
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`no such directory: ${root}`);
  const dir = huskiesDir(root);
  const state = nodeStateIn(dir);
  if (state.length)
    throw new UserError(
      `refusing to restore into ${dir}: it already holds ${state.slice(0, 5).join(", ")}${state.length > 5 ? ", …" : ""} (restore needs an empty .huskies; move it aside first)`,
    );
  mkdirSync(dir, { recursive: true });
  const staging = join(dir, `.restore-${process.pid}`);
  mkdirSync(staging, { mode: 0o700 });
  const placed: string[] = [];
  try {
    const replica = join(staging, REPLICA_FILE);
    copyFileSync(file, replica);
    chmodSync(replica, 0o600);
    stripBackupTables(replica);
    for (const f of files) {
      // The key is the node's secret and the trust files decide whom it trusts: owner-only, whatever was recorded.
      const mode = CONFIG_FILES.has(f.name) ? f.mode & 0o644 : 0o600;
      writeFileSync(join(staging, f.name), f.data, { mode });
    }
    const keyId = nodeIdOfKeyFile(join(staging, NODE_KEY_FILE));
    if (keyId !== meta.nodeId) throw new UserError(`${file} is inconsistent: its node.key is ${keyId}, its record says ${meta.nodeId}`);
    const summary = summarizeReplica(replica);

    const kept: string[] = [];
    for (const f of files) {
      const target = join(dir, f.name);
      if (CONFIG_FILES.has(f.name) && existsSync(target)) {
        if (!readFileSync(target).equals(f.data)) kept.push(f.name);
        continue;
      }
      renameSync(join(staging, f.name), target);
      placed.push(target);
    }
    renameSync(replica, join(dir, REPLICA_FILE));
    placed.push(join(dir, REPLICA_FILE));
    return { dir, meta, items: summary.items, byStage: summary.byStage, kept };
  } catch (err) {
    // Whatever was placed goes again, so the directory is as it was and a retry is not refused.
    for (const p of placed) rmSync(p, { force: true });
    throw err instanceof UserError ? err : new UserError(`restoring ${file} failed: ${(err as Error).message}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
