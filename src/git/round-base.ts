import { featureBranch } from "../pipeline/item-id.js";
import { git, hasRemote, revParse } from "./git.js";

/**
 * The ref a conflict round's base is fetched into (`huskies/base/<id>` for git commands). The coder
 * reads it; huskies checks the result against the commit recorded on the item, never against the
 * ref, so a coder that moved it gains nothing.
 */
export function roundBaseRef(id: string): string {
  return `huskies/base/${id}`;
}

/**
 * Before a conflict round's run, in the story's worktree: fetch origin, bring the branch up to
 * what origin has (another node may have run the last round), and point the round's ref at
 * origin's newest base (which contains the recorded commit; if origin's base no longer does,
 * at the recorded commit itself). Returns the commit the ref names.
 */
export async function prepareRoundBase(worktree: string, base: string, id: string, recorded: string): Promise<string> {
  const branch = featureBranch(id);
  if (await hasRemote(worktree)) {
    await git(worktree, [
      "fetch",
      "--quiet",
      "--no-tags",
      "origin",
      `+refs/heads/${base}:refs/remotes/origin/${base}`,
      `+refs/heads/${branch}:refs/remotes/origin/${branch}`,
    ]);
    // Fast-forward only: local commits origin lacks (a push that never happened) are kept as they are.
    await git(worktree, ["merge", "--ff-only", "--quiet", `origin/${branch}`], { allowFail: true });
  }
  const newest = (await hasRemote(worktree)) ? await revParse(worktree, `origin/${base}`) : await revParse(worktree, base);
  const target = newest && (await contains(worktree, newest, recorded)) ? newest : recorded;
  await git(worktree, ["update-ref", `refs/${roundBaseRef(id)}`, target]);
  return target;
}

/** Whether `commit` contains `ancestor` (false when either is unknown). */
export async function contains(worktree: string, commit: string, ancestor: string): Promise<boolean> {
  const r = await git(worktree, ["merge-base", "--is-ancestor", ancestor, commit], { allowFail: true });
  return r.exitCode === 0;
}

/** Tracked files of HEAD that still hold conflict markers. */
export async function committedConflictMarkers(worktree: string): Promise<string[]> {
  const r = await git(worktree, ["grep", "-l", "-E", "^(<<<<<<<|>>>>>>>)( |$)", "HEAD", "--"], { allowFail: true });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^HEAD:/, ""));
}
