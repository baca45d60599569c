import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { featureBranch } from "../pipeline/item-id.js";
import { isNodeTrouble } from "../pipeline/node-trouble.js";
import { classifyPushError } from "../pipeline/push-outcome.js";
import { trailerPattern } from "../pipeline/story-trailer.js";
import { git, GitError, revParse } from "./git.js";
import { clearStaleLocks } from "./stale-locks.js";

export type MergeAttempt =
  | { kind: "merged"; commit: string }
  | { kind: "already-merged"; commit: string }
  | { kind: "nothing-to-merge"; reason: string }
  | { kind: "conflict"; reason: string; files: string[] };

/** The merge workspace: a detached worktree of the project, used only for squash-merges. */
export function mergeWorkspacePath(root: string): string {
  return join(root, ".huskies", "merge_workspace");
}

/**
 * The workspace, made usable before the step (rule 3): a stale lock a killed git left is removed,
 * a half-made or unregistered workspace is made again (`git worktree prune` first).
 * `onCleaned` hears what was cleaned, for one log line.
 */
export async function ensureMergeWorkspace(root: string, onCleaned: (what: string) => void = () => undefined): Promise<string> {
  const path = mergeWorkspacePath(root);
  if (existsSync(join(path, ".git"))) {
    const usable = await git(path, ["rev-parse", "--git-dir"], { allowFail: true });
    if (usable.exitCode === 0) {
      for (const lock of clearStaleLocks(path)) onCleaned(`removed a stale ${lock}`);
      return path;
    }
    onCleaned(`merge workspace unusable (${usable.stderr.trim().split("\n")[0]}); making it again`);
  }
  // The workspace holds nothing of its own (it is reset before every merge): safe to remove.
  if (existsSync(path)) rmSync(path, { recursive: true, force: true });
  await git(root, ["worktree", "prune"]);
  await git(root, ["worktree", "add", "--quiet", "--detach", path]);
  return path;
}

/** Reset the workspace to origin's base branch, dropping anything a previous attempt left. */
export async function resetToBase(ws: string, base: string): Promise<void> {
  await git(ws, ["merge", "--abort"], { allowFail: true });
  await git(ws, ["fetch", "--quiet", "origin"]);
  await git(ws, ["checkout", "--quiet", "--detach", "--force", `origin/${base}`]);
  await git(ws, ["reset", "--quiet", "--hard", `origin/${base}`]);
  await git(ws, ["clean", "-fdqx"]);
}

/** The commit on origin's base whose trailer says it merges story `id` (see story-trailer.ts), if any. */
export async function mergedCommitOf(ws: string, base: string, id: string): Promise<string | undefined> {
  const r = await git(ws, ["log", "-1", "--format=%H", "-E", `--grep=${trailerPattern(id)}`, `origin/${base}`]);
  return r.stdout || undefined;
}

/**
 * Squash the story's branch onto origin's base in the workspace, staged, without committing.
 * A story whose trailer is already on the base is reported as merged (a mergemaster killed after
 * its push); zero commits ahead is reported, never treated as a successful merge.
 */
export async function squashStory(
  ws: string,
  base: string,
  id: string,
): Promise<{ ok: true; files: string[] } | Exclude<MergeAttempt, { kind: "merged" }>> {
  await resetToBase(ws, base);
  const merged = await mergedCommitOf(ws, base, id);
  if (merged) return { kind: "already-merged", commit: merged };
  const branch = `origin/${featureBranch(id)}`;
  if (!(await revParse(ws, branch))) return { kind: "nothing-to-merge", reason: `${featureBranch(id)} is not on origin` };
  const ahead = Number((await git(ws, ["rev-list", "--count", `origin/${base}..${branch}`])).stdout);
  if (ahead === 0)
    return { kind: "nothing-to-merge", reason: `${featureBranch(id)} has 0 commits ahead of ${base}; refusing an empty merge` };
  const r = await git(ws, ["merge", "--squash", "--no-commit", branch], { allowFail: true });
  // A merge that failed for the machine's reasons (a full disk) is not a conflict of the story's.
  if (r.exitCode !== 0 && isNodeTrouble(r.stderr)) throw new GitError(["merge", "--squash", branch], r.stderr, r.exitCode);
  const conflicted = (await git(ws, ["diff", "--name-only", "--diff-filter=U"])).stdout.split("\n").filter(Boolean);
  if (r.exitCode !== 0 || conflicted.length) {
    return {
      kind: "conflict",
      reason: `squash-merge of ${featureBranch(id)} into ${base} conflicts in ${conflicted.join(", ") || "the tree"}`,
      files: conflicted,
    };
  }
  const staged = (await git(ws, ["diff", "--cached", "--name-only"])).stdout.split("\n").filter(Boolean);
  if (staged.length === 0) return { kind: "nothing-to-merge", reason: `${featureBranch(id)} changes nothing on ${base} (already merged?)` };
  return { ok: true, files: staged };
}

/** Files still holding conflict markers or unmerged entries after a resolution attempt. */
export async function unresolvedFiles(ws: string): Promise<string[]> {
  const unmerged = (await git(ws, ["diff", "--name-only", "--diff-filter=U"])).stdout.split("\n").filter(Boolean);
  const markers = (await git(ws, ["grep", "-l", "--cached", "-E", "^(<<<<<<<|>>>>>>>) "], { allowFail: true })).stdout
    .split("\n")
    .filter(Boolean);
  return [...new Set([...unmerged, ...markers])];
}

/**
 * Stage everything in the workspace (the squash and a resolution by the mergemaster agent):
 * this is the tree the gates check and the commit records. Done before the gates, never after.
 */
export async function stageTree(ws: string): Promise<void> {
  await git(ws, ["add", "-A"]);
}

export type PushResult =
  | { ok: true; commit: string }
  /** Someone moved the base first: try again from the new base. */
  | { ok: false; race: true; reason: string }
  /** Origin refused the push; `message` is the remote's own text. */
  | { ok: false; race: false; reason: string; message: string };

/**
 * Commit the staged tree (exactly the index: whatever the gates left in the workspace is not
 * added) and push the base branch, never forced. A push whose answer says it failed is checked
 * against origin: if origin's base is this commit, it landed, and that is success. Failures that
 * are neither a lost race nor a refusal (origin unreachable, a full disk) are thrown.
 */
export async function commitAndPush(ws: string, base: string, message: string): Promise<PushResult> {
  await git(ws, ["commit", "--quiet", "--no-verify", "-m", message]);
  const commit = (await revParse(ws, "HEAD"))!;
  try {
    await git(ws, ["push", "--quiet", "origin", `HEAD:refs/heads/${base}`]);
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    const there = await git(ws, ["ls-remote", "origin", `refs/heads/${base}`], { allowFail: true });
    if (there.exitCode === 0 && there.stdout.split(/\s/)[0] === commit) return { ok: true, commit };
    const refusal = classifyPushError(err.stderr);
    if (refusal.kind === "race") return { ok: false, race: true, reason: err.message };
    if (refusal.kind === "refused") return { ok: false, race: false, reason: err.message, message: refusal.message };
    throw err;
  }
  return { ok: true, commit };
}
