import { existsSync, readFileSync, rmSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";

/**
 * Lock files a killed git leaves behind. Huskies runs one step at a time in a worktree (one job
 * per story, merges serialized per node, one process per checkout), so a lock present when a step
 * starts belongs to a git that is gone: left there, it fails every step ("Unable to create
 * '…/index.lock': File exists") until a person deletes it.
 */
const LOCKS = ["index.lock", "HEAD.lock"];

/** The git directory of a worktree (its `.git` file points there), or undefined. */
export function worktreeGitDir(dir: string): string | undefined {
  const dotGit = join(dir, ".git");
  try {
    const text = readFileSync(dotGit, "utf8");
    const m = /^gitdir:\s*(.+)$/m.exec(text);
    if (!m) return undefined;
    const gitDir = m[1]!.trim();
    return isAbsolute(gitDir) ? gitDir : resolve(dir, gitDir);
  } catch (err) {
    // A directory: a plain checkout, its git dir is `.git` itself.
    if ((err as NodeJS.ErrnoException).code === "EISDIR") return dotGit;
    return undefined;
  }
}

/** Remove stale lock files of the worktree at `dir`; returns the ones removed (for one log line). */
export function clearStaleLocks(dir: string): string[] {
  const gitDir = worktreeGitDir(dir);
  if (!gitDir) return [];
  const removed: string[] = [];
  for (const name of LOCKS) {
    const file = join(gitDir, name);
    if (!existsSync(file)) continue;
    rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}
