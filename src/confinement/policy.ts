import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * The one confinement policy for everything a story controls (docs/architecture.md §12): coders
 * of every runtime, QA runs, the mergemaster's agent, and gates on the coder's node and on the
 * merged tree. `bwrap.ts` applies it to any process; `claude-settings.ts` turns the same policy
 * into Claude Code's own `--settings` sandbox, because claude already wraps its tools in
 * bubblewrap and a second bwrap around it breaks that.
 *
 * Reads are denied by default and allowed narrowly; writes go only to the story's checkout, its
 * private git view (see `git-view.ts`), a private `$HOME` and `/tmp`, and `[sandbox] allow_write`;
 * network goes only through the node's egress proxy (no node ports, no 169.254.0.0/16) and the
 * model-API bridges the run needs.
 */

/** `[sandbox]` in project.toml. */
export interface SandboxSettings {
  /** Extra paths a confined process may read (a toolchain under a home directory, a cache). */
  allow_read: readonly string[];
  /** Extra paths a confined process may write. */
  allow_write: readonly string[];
  /** When non-empty, the only host names a confined process may connect to. */
  allow_hosts: readonly string[];
}

export const NO_SANDBOX_SETTINGS: SandboxSettings = { allow_read: [], allow_write: [], allow_hosts: [] };

/** A TCP port inside the sandbox's own network that leads to a unix socket of the node. */
export interface Bridge {
  /** The port on the sandbox's loopback (the same number the node listens on, so URLs hold). */
  port: number;
  /** The node's unix socket it leads to. */
  socket: string;
}

/**
 * The story-scoped channel back to huskies: a unix socket the node serves for this story only,
 * mounted at `sandboxPath` (for the coders' MCP endpoint; nothing mounts one yet).
 */
export interface Channel {
  hostPath: string;
  sandboxPath: string;
}

/** The policy of one confined run: what it sees, what it may write, where it may connect. */
export interface RunPolicy {
  /** The story's checkout (worktree or merge workspace): the working directory, writable. */
  cwd: string;
  /** Visible read-only. */
  readOnly: string[];
  /** Visible and writable (the checkout, the git view, `allow_write`). */
  writable: string[];
  /** Paths the read-only view must never show even where a parent is visible (`/etc/shadow`, TLS keys). */
  masked: string[];
  /** Read-only files inside a writable directory that the process must not replace (the worktree's `.git`). */
  pinned: string[];
  /**
   * The repository's own git directory: read-only even where a tool would open it (Claude Code
   * makes the main `.git` of a linked worktree writable for its Bash; huskies' runs write through
   * their git view instead).
   */
  repositoryDirs: string[];
  /** Paths Claude Code's sandbox must hide: homes, every `.huskies/`, credential files. */
  denyRead: string[];
  /**
   * Host directories for the run's private `$HOME` and `/tmp`; unset (the default) gives each run
   * a fresh tmpfs, which costs no disk writes before or clean-up after the run.
   */
  home?: string;
  tmp?: string;
  /** Variables the confined process gets on top of its allow-listed environment. */
  env: Record<string, string>;
  network: {
    /** The egress proxy's unix socket (bwrap runs) and loopback port (claude's own bridge). */
    egressSocket?: string;
    egressPort?: number;
    /** Model-API credential proxies reachable from inside. */
    bridges: Bridge[];
  };
  channel?: Channel;
}

/** Inside a bwrap sandbox: where the egress proxy answers, and where its socket is mounted. */
export const SANDBOX_PROXY_PORT = 3128;
export const SANDBOX_RUN_DIR = "/run/huskies";

/** The toolchain a confined process sees read-only (what exists of it on this machine). */
const TOOLCHAIN = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix"];

/** Secrets under the toolchain that stay hidden. */
const ETC_SECRETS = [
  "/etc/shadow",
  "/etc/shadow-",
  "/etc/gshadow",
  "/etc/gshadow-",
  "/etc/ssh",
  "/etc/ssl/private",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/security/opasswd",
];

/** Where people's homes are: hidden as a whole (`~/.ssh`, `~/.aws`, `~/.config/gh`, `~/.netrc`, `~/.docker`, claude's login). */
export function homeDirs(): string[] {
  return [...new Set([homedir(), "/root", "/home"].filter((d) => d && d !== "/"))];
}

export interface PolicyInput {
  cwd: string;
  /** The project checkout holding `.huskies/`: hidden as a whole but for the story's checkout. */
  projectRoot?: string;
  settings: SandboxSettings;
  /** Host directories for the private home and tmp (default: a tmpfs each). */
  home?: string;
  tmp?: string;
  /** The git view's writable dir and the repository objects it reads through. */
  git?: { viewDir: string; objectsDir: string; commonDir: string; env: Record<string, string> };
  /** Single files the run must read (the prompt file). */
  readFiles?: readonly string[];
  /** Directories the program keeps its own state in (a CLI's sessions): writable. */
  writeDirs?: readonly string[];
  /** Nothing writable: the checkout is read-only like the toolchain. */
  readOnly?: boolean;
  egress?: { socket: string; port: number };
  bridges?: readonly Bridge[];
  channel?: Channel;
  /** Further paths Claude Code's sandbox hides (its credentials file). */
  denyRead?: readonly string[];
}

let toolchain: string[] | undefined;

/** The toolchain directories this machine has (looked up once: they do not come and go). */
function presentToolchain(): string[] {
  return (toolchain ??= TOOLCHAIN.filter((d) => existsSync(d)));
}

/** The policy of one run. Pure apart from checking (once) which toolchain directories exist. */
export function buildPolicy(i: PolicyInput): RunPolicy {
  const cwd = resolve(i.cwd);
  const readOnly = [
    ...presentToolchain(),
    ...(i.readOnly ? [cwd] : []),
    ...(i.git ? [i.git.objectsDir] : []),
    ...(i.readFiles ?? []).map((f) => resolve(f)),
    ...i.settings.allow_read.map((p) => resolve(p)),
  ];
  const writable = i.readOnly
    ? []
    : [
        cwd,
        ...(i.git ? [i.git.viewDir] : []),
        ...(i.writeDirs ?? []).map((p) => resolve(p)),
        ...i.settings.allow_write.map((p) => resolve(p)),
      ];
  const denyRead = [
    ...homeDirs(),
    ...(i.projectRoot ? [join(resolve(i.projectRoot), ".huskies")] : []),
    ...ETC_SECRETS,
    ...(i.denyRead ?? []),
  ];
  return {
    cwd,
    readOnly,
    writable,
    masked: ETC_SECRETS,
    pinned: [join(cwd, ".git")],
    repositoryDirs: i.git ? [i.git.commonDir] : [],
    denyRead,
    home: i.home,
    tmp: i.tmp,
    env: { ...(i.git?.env ?? {}) },
    network: { egressSocket: i.egress?.socket, egressPort: i.egress?.port, bridges: [...(i.bridges ?? [])] },
    channel: i.channel,
  };
}
