import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { featureBranch } from "../pipeline/item-id.js";
import { isNodeTrouble } from "../pipeline/node-trouble.js";
import { trailerStories } from "../pipeline/story-trailer.js";
import { isItemId } from "../pipeline/item-id.js";
import { git, GitError } from "./git.js";

/**
 * rerere on for these commands only: the project's own config is the user's, and a recorded
 * resolution is replayed (`autoUpdate` stages it) without anyone asking.
 */
const RERERE = ["-c", "rerere.enabled=true", "-c", "rerere.autoUpdate=true"];
/** A rebase that stops must never wait for an editor. */
const NO_EDITOR = { GIT_EDITOR: "true", GIT_SEQUENCE_EDITOR: "true" };

/**
 * Issue 29.1, before anyone is asked: rebase the story's branch onto origin's base in the merge
 * workspace with rerere, and squash the result onto the base, staged. Only the workspace's detached
 * HEAD moves (the branch on origin is never rewritten). A step that stops on conflicts rerere
 * resolved completely is continued; one it could not is aborted. The squash conflicted just
 * before, so the workspace is reset first.
 */
export async function rebaseWithRerere(
  ws: string,
  base: string,
  id: string,
): Promise<{ ok: true; files: string[] } | { ok: false; files: string[] }> {
  const branch = `origin/${featureBranch(id)}`;
  await git(ws, ["reset", "--quiet", "--hard"]);
  await git(ws, ["checkout", "--quiet", "--detach", "--force", branch]);
  const commits = Number((await git(ws, ["rev-list", "--count", `origin/${base}..HEAD`])).stdout) || 1;
  let r = await git(ws, [...RERERE, "rebase", "--quiet", `origin/${base}`], { allowFail: true, env: NO_EDITOR });
  // Each stop is one commit; rerere may carry it through. Bounded by the commits to replay.
  for (let stop = 0; r.exitCode !== 0 && stop <= commits; stop++) {
    if (isNodeTrouble(r.stderr)) throw new GitError(["rebase", `origin/${base}`], r.stderr, r.exitCode);
    const unresolved = await unmerged(ws);
    if (unresolved.length || !(await rebasing(ws))) {
      await git(ws, ["rebase", "--abort"], { allowFail: true });
      return { ok: false, files: unresolved };
    }
    r = await git(ws, [...RERERE, "rebase", "--continue"], { allowFail: true, env: NO_EDITOR });
  }
  if (r.exitCode !== 0) {
    await git(ws, ["rebase", "--abort"], { allowFail: true });
    return { ok: false, files: [] };
  }
  const rebased = (await git(ws, ["rev-parse", "HEAD"])).stdout;
  await git(ws, ["checkout", "--quiet", "--detach", "--force", `origin/${base}`]);
  const squash = await git(ws, ["merge", "--squash", "--no-commit", rebased], { allowFail: true });
  const left = await unmerged(ws);
  if (squash.exitCode !== 0 || left.length) return { ok: false, files: left };
  const staged = (await git(ws, ["diff", "--cached", "--name-only"])).stdout.split("\n").filter(Boolean);
  return { ok: true, files: staged };
}

async function unmerged(ws: string): Promise<string[]> {
  return (await git(ws, ["diff", "--name-only", "--diff-filter=U"])).stdout.split("\n").filter(Boolean);
}

async function rebasing(ws: string): Promise<boolean> {
  const dir = (await git(ws, ["rev-parse", "--git-path", "rebase-merge"])).stdout;
  const apply = (await git(ws, ["rev-parse", "--git-path", "rebase-apply"])).stdout;
  return existsSync(resolve(ws, dir)) || existsSync(resolve(ws, apply));
}

/**
 * The stories whose squash commits on origin's base changed `files` since the story's branch
 * forked (read from their `Huskies-Story` trailers), newest first: who the coder is integrating with.
 */
export async function storiesThatChanged(ws: string, base: string, id: string, files: readonly string[]): Promise<string[]> {
  if (files.length === 0) return [];
  const fork = await git(ws, ["merge-base", `origin/${base}`, `origin/${featureBranch(id)}`], { allowFail: true });
  if (fork.exitCode !== 0 || !fork.stdout) return [];
  const log = await git(ws, ["log", "--format=%B%x00", `${fork.stdout}..origin/${base}`, "--", ...files.slice(0, 50)], { allowFail: true });
  const out: string[] = [];
  for (const message of log.stdout.split("\0")) {
    for (const story of trailerStories(message)) if (isItemId(story) && story !== id && !out.includes(story)) out.push(story);
  }
  return out.slice(0, 50);
}
