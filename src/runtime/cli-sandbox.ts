import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { findExecutable, type ConfinementPaths } from "./sandbox.js";

/**
 * Confinement of the codex and gemini CLIs (interim, until `src/confinement/` lands on main and
 * owns every story-controlled spawn): the whole CLI runs under bubblewrap, so its shell tool and
 * anything the model runs see the file system read-only except the worktree, the git metadata a
 * commit writes, and the CLI's own state directory (its sessions, for resume); the project's
 * `.huskies/` (node key, replica, logs, other stories' worktrees) is an empty tmpfs, `/tmp` is
 * private, and the process tree has its own PID namespace. Network stays open: the CLI must reach
 * its model API. (Codex's own sandbox makes `.git` read-only, so a commit through its shell fails;
 * it runs with its own sandbox off inside this one. Gemini has no sandbox on Linux but Docker.)
 */
export interface CliConfinement extends ConfinementPaths {
  /** Directories the CLI itself writes (its home: sessions, settings, logs). */
  stateDirs: readonly string[];
}

/** Whether bubblewrap is here: the CLIs need nothing else (no socat: they have no network proxy). */
export function bwrapPath(path = process.env.PATH ?? ""): string | undefined {
  return findExecutable("bwrap", path);
}

/** `bwrap … -- command args…` for a confined run. */
export function bwrapArgs(p: CliConfinement, command: string, args: readonly string[]): string[] {
  const out = ["--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  // Mounts apply in order: hide `.huskies/` first, then bind back what the run may touch inside it.
  if (p.projectRoot) out.push("--tmpfs", resolve(p.projectRoot, ".huskies"));
  for (const d of p.denyRead ?? []) if (existsSync(d)) out.push("--tmpfs", d);
  // The repository's git dir is read whole (config, HEAD, packed refs), then the parts a commit writes.
  if (p.gitCommonDir && existsSync(p.gitCommonDir)) out.push("--ro-bind", resolve(p.gitCommonDir), resolve(p.gitCommonDir));
  const rw = [...p.stateDirs, p.cwd, ...gitWrites(p)];
  for (const d of rw) if (existsSync(d)) out.push("--bind", resolve(d), resolve(d));
  for (const f of p.allowRead ?? []) if (existsSync(f)) out.push("--ro-bind", resolve(f), resolve(f));
  // The worktree's `.git` file names its git dir: rewritten, it would aim huskies' own git at the agent's.
  const dotGit = resolve(p.cwd, ".git");
  if (p.gitDir && p.gitDir !== dotGit && existsSync(dotGit)) out.push("--ro-bind", dotGit, dotGit);
  out.push("--chdir", resolve(p.cwd), "--", command, ...args);
  return out;
}

function gitWrites(p: ConfinementPaths): string[] {
  const out = p.gitCommonDir ? ["objects", "refs", "logs"].map((d) => resolve(p.gitCommonDir!, d)) : [];
  if (p.gitDir && p.gitDir !== p.gitCommonDir) out.push(p.gitDir);
  // A repository of its own (not a linked worktree): its `.git` is inside the worktree already.
  return out;
}
