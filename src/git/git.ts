import { execa } from "execa";

export class GitError extends Error {
  constructor(readonly args: string[], readonly stderr: string, readonly exitCode: number | undefined) {
    super(`git ${args.join(" ")} failed: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

/**
 * Run git with an argument vector (never a shell string), so nothing from a story can be
 * interpreted. Hooks and prompts are disabled: agents run unattended.
 */
export async function git(cwd: string, args: string[], opts: { allowFail?: boolean; env?: Record<string, string> } = {}): Promise<{ stdout: string; exitCode: number }> {
  const res = await execa("git", args, {
    cwd,
    reject: false,
    stdin: "ignore",
    env: { GIT_TERMINAL_PROMPT: "0", ...opts.env },
  });
  if (res.exitCode !== 0 && !opts.allowFail) throw new GitError(args, String(res.stderr ?? ""), res.exitCode);
  return { stdout: String(res.stdout ?? "").trim(), exitCode: res.exitCode ?? 1 };
}

export async function isGitRepo(dir: string): Promise<boolean> {
  const r = await git(dir, ["rev-parse", "--is-inside-work-tree"], { allowFail: true }).catch(() => ({ exitCode: 1, stdout: "" }));
  return r.exitCode === 0 && r.stdout === "true";
}

export async function hasRemote(dir: string, name = "origin"): Promise<boolean> {
  const r = await git(dir, ["remote"], { allowFail: true });
  return r.stdout.split("\n").includes(name);
}

/** The base branch: configured, else origin's HEAD, else the checked-out branch, else `main`. */
export async function detectBaseBranch(dir: string, configured?: string): Promise<string> {
  if (configured) return configured;
  const remoteHead = await git(dir, ["symbolic-ref", "--short", "refs/remotes/origin/HEAD"], { allowFail: true });
  if (remoteHead.exitCode === 0 && remoteHead.stdout.startsWith("origin/")) return remoteHead.stdout.slice("origin/".length);
  const head = await git(dir, ["symbolic-ref", "--short", "HEAD"], { allowFail: true });
  return head.exitCode === 0 && head.stdout ? head.stdout : "main";
}

export async function revParse(dir: string, ref: string): Promise<string | undefined> {
  const r = await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { allowFail: true });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Commits on `branch` that `base` does not have; 0 when either ref is missing. */
export async function commitsAhead(dir: string, base: string, branch: string): Promise<number> {
  if (!(await revParse(dir, base)) || !(await revParse(dir, branch))) return 0;
  const r = await git(dir, ["rev-list", "--count", `${base}..${branch}`]);
  return Number.parseInt(r.stdout, 10) || 0;
}

export async function fetchOrigin(dir: string): Promise<void> {
  if (await hasRemote(dir)) await git(dir, ["fetch", "--quiet", "--prune", "origin"]);
}
