import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * What a node's `.huskies/` holds, sorted by what a backup does with it. One list, so `backup`,
 * `restore` and the README agree:
 *
 * - the **replica** (`replica.db`: the document's snapshot and update log, and the local tables
 *   beside it — join tokens, admitted keys, and whatever later tables other parts add), taken with
 *   SQLite's online backup;
 * - **files**: every other regular file directly in `.huskies/`: the node key `node.key` (the
 *   private key: the backup is as secret as it), the trust files `rendezvous.json` and
 *   `admission.json` (an agent's pinned rendezvous and its certificate), `handover.json` (a
 *   recovered rendezvous' operator-signed handover), and the configuration
 *   (`project.toml`, `agents.toml`, `.gitignore`) as this node had it;
 * - **left out**: directories (`worktrees/`, `merge_workspace/`: their work is on origin or is
 *   recreated; `logs/`: agent logs are history, not state), pid records of processes this
 *   machine ran (`running.json`), lock files, and damaged replicas moved aside.
 */
export const REPLICA_FILE = "replica.db";
export const NODE_KEY_FILE = "node.key";

/** Files a fresh checkout may already hold (committed configuration): restore leaves them be. */
export const CONFIG_FILES: ReadonlySet<string> = new Set(["project.toml", "agents.toml", ".gitignore"]);

/** Files of `.huskies/` that are not node state (see above). */
export function isTransient(name: string): boolean {
  return (
    name === REPLICA_FILE ||
    name.startsWith(`${REPLICA_FILE}-`) ||
    name.startsWith(`${REPLICA_FILE}.`) ||
    name === "running.json" ||
    name.endsWith(".lock") ||
    name.endsWith(".tmp")
  );
}

/** The largest file a backup takes from `.huskies/` (state files are small; a stray big file is not state). */
export const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** The regular files of `dir` (a `.huskies/`) that a backup holds, besides the replica. */
export function stateFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !isTransient(name))
    .filter((name) => {
      const st = statSync(join(dir, name), { throwIfNoEntry: false });
      return !!st && st.isFile() && st.size <= MAX_STATE_FILE_BYTES;
    })
    .sort();
}

/**
 * What in a `.huskies/` a restore would have to overwrite or mix with: anything but a fresh
 * checkout's committed configuration (a key, a replica, trust files, an earlier node's
 * worktrees or logs). Empty when the directory does not exist.
 */
export function nodeStateIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => !CONFIG_FILES.has(name)).sort();
}
