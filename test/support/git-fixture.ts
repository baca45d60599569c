import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./paths.js";

export const GIT_ENV = {
  GIT_AUTHOR_NAME: "huskies test",
  GIT_AUTHOR_EMAIL: "test@huskies.invalid",
  GIT_COMMITTER_NAME: "huskies test",
  GIT_COMMITTER_EMAIL: "test@huskies.invalid",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...GIT_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

export interface Project {
  /** Temp root holding everything (removed by `cleanup`). */
  dir: string;
  /** The bare "origin". */
  origin: string;
  /** The server's checkout. */
  root: string;
  /** Another checkout of origin, e.g. for an agent on "another machine". */
  clone(name: string): string;
  cleanup(): void;
}

/**
 * A git project with a bare origin and `.huskies/` committed, like a real team's repository.
 * `projectToml` and `agentsToml` replace the files `huskies init` writes.
 */
export function createProject(opts: { projectToml?: string; agentsToml?: string; files?: Record<string, string> } = {}): Project {
  const dir = mkdtempSync(join(tmpdir(), "huskies-test-"));
  const origin = join(dir, "origin.git");
  const root = join(dir, "server");
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", origin]);
  execFileSync("git", ["clone", "-q", origin, root], { stdio: "ignore" });
  git(root, "checkout", "-q", "-b", "main");
  git(root, "config", "user.name", GIT_ENV.GIT_AUTHOR_NAME);
  git(root, "config", "user.email", GIT_ENV.GIT_AUTHOR_EMAIL);
  writeFileSync(join(root, "README.md"), "# test project\n");
  for (const [rel, content] of Object.entries(opts.files ?? {})) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  execFileSync(process.execPath, [CLI, "init", root], { stdio: "ignore" });
  if (opts.projectToml !== undefined) writeFileSync(join(root, ".huskies", "project.toml"), opts.projectToml);
  if (opts.agentsToml !== undefined) writeFileSync(join(root, ".huskies", "agents.toml"), opts.agentsToml);
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", "initial");
  git(root, "push", "-q", "-u", "origin", "main");
  return {
    dir,
    origin,
    root,
    clone(name: string) {
      const path = join(dir, name);
      execFileSync("git", ["clone", "-q", origin, path], { stdio: "ignore" });
      git(path, "config", "user.name", GIT_ENV.GIT_AUTHOR_NAME);
      git(path, "config", "user.email", GIT_ENV.GIT_AUTHOR_EMAIL);
      return path;
    },
    cleanup() {
      // A git process a node started just before it was stopped (a background fetch, a pool
      // refill) may still be writing under a clone for a moment: retry instead of failing on
      // ENOTEMPTY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** Branches present in the bare origin. */
export function originBranches(origin: string): string[] {
  return git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split("\n").filter(Boolean);
}
