import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

/**
 * Small file-system helpers the confinement module and preflight share. The policy itself, and
 * everything that starts a story-controlled process, lives in `src/confinement/`.
 */

/** The git dirs of the checkout at `cwd` (reads its `.git` file and `commondir`). */
export function gitDirsOf(cwd: string): { gitDir?: string; gitCommonDir?: string } {
  const dotGit = join(cwd, ".git");
  try {
    if (statSync(dotGit).isDirectory()) return { gitDir: dotGit, gitCommonDir: dotGit };
    const gitDir = resolve(cwd, /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, "utf8"))![1]!.trim());
    let common = gitDir;
    try {
      common = resolve(gitDir, readFileSync(join(gitDir, "commondir"), "utf8").trim());
    } catch {
      /* not a linked worktree: its git dir is the common dir */
    }
    return { gitDir, gitCommonDir: common };
  } catch {
    return {};
  }
}

/** Absolute path of an executable `name` on `path`, or of `name` itself when it contains a slash. */
export function findExecutable(name: string, path = process.env.PATH ?? ""): string | undefined {
  const candidates = name.includes("/")
    ? [resolve(name)]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** What the sandbox needs and this machine lacks (empty: it may run; `probeSandbox` proves it does). */
export function missingSandboxTools(path = process.env.PATH ?? ""): string[] {
  return ["bwrap", "socat"].filter((t) => !findExecutable(t, path));
}
