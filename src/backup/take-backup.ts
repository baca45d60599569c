import { existsSync, fsyncSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { huskiesDir } from "../config/project-root.js";
import { UserError } from "../errors.js";
import { nodeIdOfKeyFile } from "../trust/identity.js";
import { VERSION } from "../version.js";
import { BACKUP_FORMAT, isBackupFile, writeBackupTables, type BackupEntry } from "./backup-file.js";
import { NODE_KEY_FILE, REPLICA_FILE, stateFiles } from "./node-state.js";
import { copyReplicaOnline } from "./online-copy.js";
import { summarizeReplica } from "./replica-summary.js";

export interface BackupResult {
  file: string;
  nodeId: string;
  role: string;
  items: number;
  bytes: number;
  files: string[];
}

/**
 * `huskies backup FILE`: a consistent copy of the node of checkout `root`, running or not, in
 * one file of mode 600 (backup-file.ts). The replica is copied with SQLite's online backup, so
 * it holds every write the node acknowledged before this began (online-copy.ts); the key, trust
 * and configuration files are read beside it. The file is written under a temporary name and
 * renamed, so `FILE` is either the previous backup or the new one, never half of one.
 */
export async function takeBackup(root: string, fileArg: string): Promise<BackupResult> {
  const dir = huskiesDir(root);
  const file = resolve(fileArg);
  const keyFile = join(dir, NODE_KEY_FILE);
  if (!existsSync(keyFile)) throw new UserError(`${dir} has no ${NODE_KEY_FILE}: there is no node here to back up`);
  if (!existsSync(join(dir, REPLICA_FILE))) throw new UserError(`${dir} has no ${REPLICA_FILE}: start the node once before backing it up`);
  if (isInside(dir, file)) throw new UserError(`write the backup outside ${dir}: a backup kept beside the node it copies is lost with it`);
  if (!existsSync(dirname(file))) throw new UserError(`cannot write ${file}: ${dirname(file)} does not exist`);
  if (existsSync(file) && (!statSync(file).isFile() || !isBackupFile(file)))
    throw new UserError(`refusing to overwrite ${file}: it is not a huskies backup`);

  let nodeId: string;
  try {
    nodeId = nodeIdOfKeyFile(keyFile);
  } catch (err) {
    throw new UserError(`cannot read ${keyFile}: ${(err as Error).message}`);
  }
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await copyReplicaOnline(join(dir, REPLICA_FILE), tmp);
    const entries = await Promise.all(stateFiles(dir).map((name) => readStateFile(dir, name)));
    const summary = summarizeReplica(tmp);
    const role = summary.roleOf(nodeId) ?? (entries.some((e) => e.name === "rendezvous.json") ? "agent" : "unknown");
    writeBackupTables(
      tmp,
      { format: BACKUP_FORMAT, nodeId, createdAt: Date.now(), version: VERSION, source: root, items: summary.items, role },
      entries,
    );
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    return { file, nodeId, role, items: summary.items, bytes: statSync(file).size, files: entries.map((e) => e.name) };
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}-journal`, { force: true });
  }
}

/**
 * A running node rewrites its trust files now and then (a fresh certificate on every welcome)
 * with a plain write, so a read may catch one half-written: a JSON file is read until it parses.
 */
async function readStateFile(dir: string, name: string): Promise<BackupEntry> {
  const path = join(dir, name);
  for (let attempt = 0; ; attempt++) {
    const data = readFileSync(path);
    const mode = statSync(path).mode & 0o777;
    if (!name.endsWith(".json") || attempt >= 20 || parses(data)) return { name, mode, data };
    await sleep(50);
  }
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function parses(data: Buffer): boolean {
  try {
    JSON.parse(data.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}
