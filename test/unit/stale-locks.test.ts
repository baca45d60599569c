import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clearStaleLocks, worktreeGitDir } from "../../src/git/stale-locks.js";
import { tempDir } from "../support/in-process.js";

const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" },
  }).trim();
}

describe("stale git locks are cleaned before a step", () => {
  it("finds a linked worktree's git dir and removes its index.lock and HEAD.lock; git works again", () => {
    const t = tempDir();
    dirs.push(t);
    git(t.dir, "init", "-q", "-b", "main");
    git(t.dir, "commit", "-q", "--allow-empty", "-m", "first");
    const wt = join(t.dir, "wt");
    git(t.dir, "worktree", "add", "-q", "-b", "feature", wt);
    const gitDir = worktreeGitDir(wt)!;
    expect(gitDir).toBe(join(t.dir, ".git", "worktrees", "wt"));
    writeFileSync(join(gitDir, "index.lock"), "");
    writeFileSync(join(gitDir, "HEAD.lock"), "");
    writeFileSync(join(wt, "a.txt"), "a\n");
    expect(() => git(wt, "add", "a.txt")).toThrow(/index\.lock/);
    expect(clearStaleLocks(wt).sort()).toEqual([join(gitDir, "HEAD.lock"), join(gitDir, "index.lock")]);
    git(wt, "add", "a.txt");
    git(wt, "commit", "-qm", "works again");
    // A plain checkout: its git dir is .git itself; nothing to clean is nothing removed.
    expect(worktreeGitDir(t.dir)).toBe(join(t.dir, ".git"));
    expect(clearStaleLocks(t.dir)).toEqual([]);
    expect(worktreeGitDir(join(t.dir, "nowhere"))).toBeUndefined();
    expect(existsSync(join(gitDir, "index.lock"))).toBe(false);
  });
});
