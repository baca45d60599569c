import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { featureBranch, assertItemId } from "../pipeline/item-id.js";
import { classifyPushError } from "../pipeline/push-outcome.js";
import { git, GitError, hasRemote, revParse } from "./git.js";
import { clearStaleLocks } from "./stale-locks.js";
import type { WorktreeSource } from "./worktree-pool.js";

export function worktreePath(root: string, id: string): string {
  assertItemId(id);
  return join(root, ".huskies", "worktrees", id);
}

/**
 * The story's worktree on `feature/story-<id>`: reused if present, else created from the
 * branch (local, then origin) or, for a first attempt, from the base branch on origin.
 * `fetch` is for items whose branch may already be on origin (pushed by another node); a
 * first attempt skips it, because the agent keeps origin's base fresh in the background and
 * a fetch here would sit on the claim-to-coder path. With a `pool`, a first attempt takes a
 * prepared worktree (no git spawn at all) and falls back to adding one when none is ready.
 */
export async function ensureWorktree(
  root: string,
  id: string,
  base: string,
  opts: { fetch: boolean; pool?: WorktreeSource; onCleaned?: (what: string) => void } = { fetch: true },
): Promise<string> {
  const path = worktreePath(root, id);
  const branch = featureBranch(id);
  const cleaned = opts.onCleaned ?? (() => undefined);
  if (existsSync(join(path, ".git"))) {
    for (const lock of clearStaleLocks(path)) cleaned(`removed a stale ${lock}`);
    return path;
  }
  if (existsSync(path)) {
    // Half-made (a crash during `worktree add`) or half-deleted: nothing git can use. Moved aside,
    // not deleted, since we cannot tell what it holds.
    const aside = join(root, ".huskies", "worktrees", `.broken-${id}-${Date.now()}`);
    renameSync(path, aside);
    cleaned(`moved a worktree without .git aside to ${aside}`);
  }
  if (!opts.fetch && opts.pool) {
    const taken = await opts.pool.take(id);
    if (taken) return taken;
  }
  const remote = await hasRemote(root);
  const add = (...args: string[]) => git(root, ["worktree", "add", "--quiet", ...args]);
  if (!opts.fetch) {
    // The common case, a first attempt: one git call. It fails only if the branch already exists
    // (or a deleted worktree is still registered at the path).
    const first = await git(root, ["worktree", "add", "--quiet", "-b", branch, path, remote ? `origin/${base}` : base], {
      allowFail: true,
    });
    if (first.exitCode === 0) return path;
  }
  // A worktree deleted under git stays registered, and `worktree add` refuses its path ("missing
  // but already registered") until it is pruned.
  await git(root, ["worktree", "prune"]);
  if (remote && opts.fetch) await git(root, ["fetch", "--quiet", "origin"]);
  // One call tells which of the two branch refs exist.
  const refs = (
    await git(root, ["for-each-ref", "--format=%(refname)", `refs/heads/${branch}`, `refs/remotes/origin/${branch}`])
  ).stdout.split("\n");
  if (refs.includes(`refs/heads/${branch}`)) {
    await add(path, branch);
  } else if (remote && refs.includes(`refs/remotes/origin/${branch}`)) {
    await add("-b", branch, path, `origin/${branch}`);
  } else {
    await add("-b", branch, path, remote ? `origin/${base}` : base);
  }
  return path;
}

/** Why a worktree must be kept: it holds work that exists nowhere else. */
export type WorktreeState = "clean" | "uncommitted" | "unpushed";

/**
 * What removing the worktree would lose: uncommitted changes (untracked files included), or
 * commits that origin does not have. Without a remote, commits stay on the feature branch after
 * the worktree goes, so only uncommitted work counts.
 */
export async function worktreeState(root: string, id: string): Promise<WorktreeState | undefined> {
  const path = worktreePath(root, id);
  if (!existsSync(join(path, ".git"))) return undefined;
  const status = await git(path, ["status", "--porcelain", "--untracked-files=normal"], { allowFail: true });
  if (status.exitCode !== 0 || status.stdout !== "") return "uncommitted";
  if (!(await hasRemote(root))) return "clean";
  const unpushed = await git(path, ["rev-list", "--count", "HEAD", "--not", "--remotes=origin"], { allowFail: true });
  return unpushed.exitCode !== 0 || unpushed.stdout !== "0" ? "unpushed" : "clean";
}

/**
 * Remove the story's worktree only when that loses nothing (see `worktreeState`); otherwise keep
 * it and say why. The branch always stays, for history.
 */
export async function removeWorktreeIfSafe(root: string, id: string): Promise<{ removed: boolean; state?: WorktreeState }> {
  const state = await worktreeState(root, id);
  if (state === undefined) return { removed: false };
  if (state !== "clean") return { removed: false, state };
  const path = worktreePath(root, id);
  // --force only for ignored files (build output); the check above found nothing else.
  await git(root, ["worktree", "remove", "--force", path], { allowFail: true });
  if (existsSync(path)) rmSync(path, { recursive: true, force: true });
  await git(root, ["worktree", "prune"], { allowFail: true });
  return { removed: true, state };
}

/**
 * Push the feature branch. Judged by what is true: when origin already has exactly this HEAD (a
 * push that landed before its answer was lost), there is nothing to push and that is success.
 *
 * `supersede` is for the claim's current holder (the caller has just checked the claim is still
 * its own): the story's branch is then its to write, and a tip an earlier holder pushed before
 * losing the claim (a restart, a lapse) is replaced. Only a non-fast-forward answer is replaced,
 * and only with a lease on the tip just read, so a writer racing in between still wins; a remote
 * that refuses (a hook, a protected branch) is never retried and its refusal stands. Without
 * `supersede` nothing is ever forced. Returns the tip it replaced, if any.
 */
export async function pushBranch(worktree: string, branch: string, opts: { supersede?: boolean } = {}): Promise<{ replaced?: string }> {
  const ref = `refs/heads/${branch}`;
  try {
    await git(worktree, ["push", "--quiet", "origin", `${branch}:${ref}`]);
    return {};
  } catch (err) {
    if (await isPushed(worktree, branch).catch(() => false)) return {};
    if (!opts.supersede || !(err instanceof GitError) || classifyPushError(err.stderr).kind !== "race") throw err;
    const seen = await git(worktree, ["ls-remote", "origin", ref], { allowFail: true });
    if (seen.exitCode !== 0) throw err;
    // An empty lease ("") means the branch must still be absent: it was deleted in between.
    const tip = seen.stdout.split(/\s/)[0] ?? "";
    try {
      await git(worktree, ["push", "--quiet", `--force-with-lease=${ref}:${tip}`, "origin", `${branch}:${ref}`]);
    } catch (again) {
      if (!(await isPushed(worktree, branch).catch(() => false))) throw again;
    }
    return tip ? { replaced: tip } : {};
  }
}

/** Commits on HEAD that origin's base branch (or, without a remote, the local base) does not have. */
export async function worktreeCommitsAhead(worktree: string, base: string): Promise<number> {
  let r = await git(worktree, ["rev-list", "--count", `origin/${base}..HEAD`], { allowFail: true });
  if (r.exitCode !== 0) r = await git(worktree, ["rev-list", "--count", `${base}..HEAD`], { allowFail: true });
  return r.exitCode === 0 ? Number.parseInt(r.stdout, 10) || 0 : 0;
}

/** Whether origin already has exactly this HEAD on the branch. */
export async function isPushed(worktree: string, branch: string): Promise<boolean> {
  const head = await revParse(worktree, "HEAD");
  const r = await git(worktree, ["ls-remote", "origin", `refs/heads/${branch}`], { allowFail: true });
  return !!head && r.stdout.split(/\s/)[0] === head;
}
