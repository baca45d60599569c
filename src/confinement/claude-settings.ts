import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunPolicy } from "./policy.js";

/**
 * Claude Code's `--settings` from the shared policy. Claude already runs every Bash command in
 * bubblewrap (with its own PID namespace, and its network through a proxy); wrapping claude in a
 * second bwrap breaks that (nested proc mounts fail), so the same policy is expressed in its
 * settings (checked against claude 2.1.197's settings schema):
 * - reads: every top-level directory but the toolchain is denied (`/root`, `/home`, `/tmp`,
 *   `/srv`, …: homes, every project's `.huskies/`, TLS keys), then the story's checkout, its git
 *   view, the repository's objects and the run's files are re-allowed (`allowRead` wins over
 *   `denyRead`). A denied directory is an empty tmpfs inside, so `$HOME` and `/tmp` are private.
 * - writes: the checkout and its git view (and `[sandbox] allow_write`); the checkout's `.git`
 *   file stays read-only.
 * - credentials: the CLI's own credentials file (a subscription login) is denied to its tools.
 * - network: claude's bridge goes to huskies' egress proxy (`httpProxyPort` = `socksProxyPort`),
 *   which applies the node's rules (no node ports, no 169.254.0.0/16, `allow_hosts`).
 * Claude's file tools are not sandboxed, so bare `Read`, `Write`, … are scoped to the checkout.
 */

/** Tools whose permission rules take a path; their bare names are scoped to the checkout. */
const FILE_TOOLS = new Set(["Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "NotebookRead", "Glob", "Grep"]);

/** Top-level directories a confined process may see: the toolchain and the kernel's views. */
const VISIBLE_TOP = new Set(["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt", "nix", "dev", "proc", "sys"]);

/**
 * `allowed_tools` with bare file tools limited to `cwd` (`//` starts an absolute path in a rule),
 * plus reading `readable` files (the prompt file) when `Read` was allowed.
 */
export function scopeFileTools(tools: readonly string[], cwd: string, readable: readonly string[] = []): string[] {
  const scoped = tools.map((t) => (FILE_TOOLS.has(t) ? `${t}(/${resolve(cwd)}/**)` : t));
  return tools.includes("Read") ? [...scoped, ...readable.map((f) => `Read(/${resolve(f)})`)] : scoped;
}

/** Everything at `/` but the toolchain, as claude `denyRead` entries. */
export function deniedTopLevel(root = "/"): string[] {
  try {
    return readdirSync(root)
      .filter((n) => !VISIBLE_TOP.has(n))
      .map((n) => join(root, n));
  } catch {
    return [];
  }
}

export interface ClaudeSandboxOptions {
  /** `sandbox = "required"`: claude exits at start when its sandbox cannot run. */
  required: boolean;
  /** The CLI's credentials file(s), denied to its tools. */
  credentialFiles: readonly string[];
  /** Claude's own config dir: its shell snapshots must stay readable to its sandboxed shell. */
  configDir?: string;
}

/** The `--settings` object; without a policy (unconfined) only the tool rules. */
export function claudeSettings(cwd: string, policy: RunPolicy | undefined, o: ClaudeSandboxOptions): Record<string, unknown> {
  // The `.git` file of a worktree points at its git dir; rewritten, it would aim huskies' own git
  // commands (push, gates' checkouts) at a directory the agent controls.
  const permissions = { deny: [`Edit(/${resolve(cwd, ".git")})`] };
  if (!policy) return { permissions };
  const extraReads = policy.readOnly.filter((p) => !/^\/[^/]+$/.test(p));
  const network: Record<string, unknown> = { allowedDomains: ["*"] };
  if (policy.network.egressPort)
    Object.assign(network, { httpProxyPort: policy.network.egressPort, socksProxyPort: policy.network.egressPort });
  return {
    permissions,
    sandbox: {
      enabled: true,
      failIfUnavailable: o.required,
      allowUnsandboxedCommands: false,
      // Bash runs only if the slot's allowed_tools names it, sandboxed or not.
      autoAllowBashIfSandboxed: false,
      network,
      filesystem: {
        allowWrite: policy.writable,
        // Claude opens a linked worktree's main `.git` for writing; the run writes through its view.
        denyWrite: [...policy.pinned, ...policy.repositoryDirs],
        denyRead: [...deniedTopLevel(), ...policy.denyRead, ...o.credentialFiles],
        allowRead: [...policy.writable, ...extraReads, ...(o.configDir ? [join(o.configDir, "shell-snapshots")] : [])],
      },
      credentials: { files: o.credentialFiles.map((path) => ({ path, mode: "deny" })) },
    },
  };
}
