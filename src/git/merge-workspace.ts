import { existsSync } from "node:fs";
import { join } from "node:path";
import { featureBranch } from "../pipeline/item-id.js";
import { git, GitError, revParse } from "./git.js";

export type MergeAttempt =
  { kind: "merged"; commit: string } | { kind: "nothing-to-merge"; reason: string } | { kind: "conflict"; reason: string; files: string[] };

/** The merge workspace: a detached worktree of the project, used only for squash-merges. */
export function mergeWorkspacePath(root: string): string {
  return join(root, ".huskies", "merge_workspace");
}

export async function ensureMergeWorkspace(root: string): Promise<string> {
  const path = mergeWorkspacePath(root);
  if (!existsSync(join(path, ".git"))) {
    await git(root, ["worktree", "prune"]);
    await git(root, ["worktree", "add", "--quiet", "--detach", path]);
  }
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

/**
 * Squash the story's branch onto origin's base in the workspace, without committing.
 * Zero commits ahead is reported, never treated as a successful merge.
 */
export async function squashStory(
  ws: string,
  base: string,
  id: string,
): Promise<{ ok: true; files: string[] } | Exclude<MergeAttempt, { kind: "merged" }>> {
  await resetToBase(ws, base);
  const branch = `origin/${featureBranch(id)}`;
  if (!(await revParse(ws, branch))) return { kind: "nothing-to-merge", reason: `${featureBranch(id)} is not on origin` };
  const ahead = Number((await git(ws, ["rev-list", "--count", `origin/${base}..${branch}`])).stdout);
  if (ahead === 0)
    return { kind: "nothing-to-merge", reason: `${featureBranch(id)} has 0 commits ahead of ${base}; refusing an empty merge` };
  const r = await git(ws, ["merge", "--squash", "--no-commit", branch], { allowFail: true });
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

/** Commit the staged squash and push the base branch (never forced). Returns the commit, or a rejection. */
export async function commitAndPush(
  ws: string,
  base: string,
  message: string,
): Promise<{ ok: true; commit: string } | { ok: false; reason: string }> {
  await git(ws, ["add", "-A"]);
  await git(ws, ["commit", "--quiet", "--no-verify", "-m", message]);
  const commit = (await revParse(ws, "HEAD"))!;
  try {
    await git(ws, ["push", "--quiet", "origin", `HEAD:refs/heads/${base}`]);
  } catch (err) {
    if (err instanceof GitError) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, commit };
}
