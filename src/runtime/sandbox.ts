import { accessSync, constants, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import type { SandboxMode } from "../config/agents-config.js";

/**
 * Confining a claude-code agent to its story. Two layers, both through `claude --settings`:
 * - Claude Code's own sandbox (bubblewrap + socat on Linux) wraps every Bash command: the file
 *   system is read-only except the worktree and the git metadata a commit writes; `.huskies/`
 *   (node key, replica, admission and rendezvous files, pid records, logs, other stories'
 *   worktrees) is hidden, the worktree itself re-bound inside it. The model cannot ask to leave
 *   the sandbox (`allowUnsandboxedCommands: false`). Network stays open (`allowedDomains: ["*"]`):
 *   huskies confines files, not the package registries a build needs.
 * - Claude's file tools are not sandboxed, so bare `Read`, `Write`, `Edit`, `Glob`, `Grep`, …
 *   in `allowed_tools` are scoped to the worktree (`Read(//worktree/**)`); anything outside is
 *   "not granted" in print mode. Applied whenever `sandbox` is not `off`, with or without bwrap.
 * Verified with claude 2.1.197 (test/security/coder-sandbox.test.ts).
 */

/** The paths confinement is computed from. */
export interface ConfinementPaths {
  cwd: string;
  /** Holds `.huskies/`; unknown when the agent runs outside a huskies project layout. */
  projectRoot?: string;
  /** The worktree's own git dir (`<repo>/.git/worktrees/<id>`) and the repository's `.git`. */
  gitDir?: string;
  gitCommonDir?: string;
  denyRead?: readonly string[];
  /** Files re-allowed inside a hidden directory: the story's prompt file (`$HUSKIES_PROMPT_FILE`). */
  allowRead?: readonly string[];
}

/** Tools whose permission rules take a path; their bare names are scoped to the worktree. */
const FILE_TOOLS = new Set(["Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "NotebookRead", "Glob", "Grep"]);

/**
 * `allowed_tools` with bare file tools limited to `cwd` (`//` starts an absolute path in a rule),
 * plus reading `readable` files (the prompt file) when `Read` was allowed.
 */
export function scopeFileTools(tools: readonly string[], cwd: string, readable: readonly string[] = []): string[] {
  const scoped = tools.map((t) => (FILE_TOOLS.has(t) ? `${t}(/${resolve(cwd)}/**)` : t));
  return tools.includes("Read") ? [...scoped, ...readable.map((f) => `Read(/${resolve(f)})`)] : scoped;
}

/** The `--settings` object for a claude-code run; `sandboxed` false keeps only the tool rules. */
export function claudeSettings(p: ConfinementPaths, opts: { sandboxed: boolean; required: boolean }): Record<string, unknown> {
  // The `.git` file of a worktree points at its git dir; rewritten, it would aim huskies' own git
  // commands (push, gates' checkouts) at a directory the agent controls.
  const permissions = { deny: [`Edit(/${resolve(p.cwd, ".git")})`] };
  if (!opts.sandboxed) return { permissions };
  const allowWrite = gitWritePaths(p);
  const denyRead = [...(p.projectRoot ? [join(p.projectRoot, ".huskies")] : []), ...(p.denyRead ?? [])];
  return {
    permissions,
    sandbox: {
      enabled: true,
      failIfUnavailable: opts.required,
      allowUnsandboxedCommands: false,
      // Bash runs only if the slot's allowed_tools names it, sandboxed or not.
      autoAllowBashIfSandboxed: false,
      network: { allowedDomains: ["*"] },
      filesystem: { allowWrite, denyWrite: [resolve(p.cwd, ".git")], denyRead, allowRead: [...(p.allowRead ?? [])] },
    },
  };
}

/** What a commit in a linked worktree writes outside it: objects, refs, reflogs and its own git dir. */
function gitWritePaths(p: ConfinementPaths): string[] {
  const out = p.gitCommonDir ? ["objects", "refs", "logs"].map((d) => join(p.gitCommonDir!, d)) : [];
  if (p.gitDir && p.gitDir !== p.gitCommonDir) out.push(p.gitDir);
  return out;
}

/**
 * The confinement of an agent in `cwd`: its project root, git dirs, and the git directories it
 * writes made to exist (a bind mount needs its target; a fresh repository may have no `logs`).
 */
export function confinementOf(opts: {
  cwd: string;
  projectRoot?: string;
  denyRead?: readonly string[];
  allowRead?: readonly string[];
}): ConfinementPaths {
  const p: ConfinementPaths = { ...opts, projectRoot: opts.projectRoot ?? projectRootOf(opts.cwd), ...gitDirsOf(opts.cwd) };
  for (const dir of gitWritePaths(p)) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      /* not ours to create: the sandbox skips it and git reports what it could not write */
    }
  }
  return p;
}

/** `.huskies/worktrees/<id>` or `.huskies/merge_workspace` → the project root above it. */
export function projectRootOf(cwd: string): string | undefined {
  return /^(.*)\/\.huskies\/(?:worktrees\/[^/]+|merge_workspace)\/?$/.exec(resolve(cwd))?.[1];
}

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

/** What Claude Code's Linux sandbox needs and this machine lacks (empty: it can run). */
export function missingSandboxTools(path = process.env.PATH ?? ""): string[] {
  return ["bwrap", "socat"].filter((t) => !findExecutable(t, path));
}

/** Whether to sandbox a slot of mode `mode` here; `warning` when `auto` falls back to unconfined Bash. */
export function sandboxDecision(
  mode: SandboxMode | undefined,
  missing: readonly string[],
): { sandboxed: boolean; required: boolean; warning?: string } {
  const m = mode ?? "auto";
  if (m === "off") return { sandboxed: false, required: false };
  if (m === "required") return { sandboxed: true, required: true };
  if (missing.length === 0) return { sandboxed: true, required: false };
  return {
    sandboxed: false,
    required: false,
    warning: `${missing.join(" and ")} not found on PATH: claude-code coders run without the Bash sandbox (install bubblewrap and socat, or set sandbox = "off" to silence this)`,
  };
}

/**
 * Files Claude Code's sandbox protects by mounting /dev/null over them (or an empty placeholder)
 * inside the working directory: seen from the sandbox they are character devices, and `git add -A`
 * refuses the whole commit ("can only add regular files"). Found in claude 2.1's sandbox code.
 */
const SANDBOX_PLACEHOLDERS = [
  ".gitconfig",
  ".gitmodules",
  ".bashrc",
  ".bash_profile",
  ".zshrc",
  ".zprofile",
  ".profile",
  ".ripgreprc",
  ".mcp.json",
  ".vscode",
  ".idea",
  ".claude",
];

/**
 * Let a sandboxed agent commit with `git add -A`: git run by the agent ignores the sandbox's
 * placeholders at the top of its worktree, through an excludes file kept in the worktree's own git
 * dir and named by `core.excludesFile` in the agent's environment only (the project's and the
 * user's ignore files are not touched; the user's default global ignore file is included so it
 * still applies). Tracked files are never ignored, so a project's own `.mcp.json` still commits.
 */
export function sandboxGitEnv(cwd: string): Record<string, string> {
  const { gitDir } = gitDirsOf(cwd);
  if (!gitDir) return {};
  const globalIgnore = join(process.env.XDG_CONFIG_HOME || join(process.env.HOME ?? "/", ".config"), "git", "ignore");
  let own = "";
  try {
    own = readFileSync(globalIgnore, "utf8");
  } catch {
    /* no global ignore file */
  }
  const file = join(gitDir, "huskies-sandbox-exclude");
  writeFileSync(
    file,
    `${own}\n# huskies: Claude Code's sandbox placeholders (not the agent's work)\n${SANDBOX_PLACEHOLDERS.map((n) => `/${n}`).join("\n")}\n`,
  );
  return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "core.excludesFile", GIT_CONFIG_VALUE_0: file };
}
