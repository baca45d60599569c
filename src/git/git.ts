import { execFile } from "node:child_process";

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | undefined,
  ) {
    super(`git ${args.join(" ")} failed: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

/**
 * Run git with an argument vector (never a shell string), so nothing from a story can be
 * interpreted. Hooks and prompts are disabled: agents run unattended.
 */
export async function git(
  cwd: string,
  args: string[],
  opts: { allowFail?: boolean; env?: Record<string, string> } = {},
): Promise<{ stdout: string; exitCode: number }> {
  // Plain execFile, not execa: git runs on the claim-to-coder path and every millisecond of
  // process-spawn overhead there shows in claim latency.
  const res = await new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    const child = execFile(
      "git",
      args,
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: "0", ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === "number"
            ? Number((err as { code: number }).code)
            : 1
          : 0;
        resolve({ stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : ""), code });
      },
    );
    child.stdin?.end();
  });
  if (res.code !== 0 && !opts.allowFail) throw new GitError(args, res.stderr, res.code);
  return { stdout: res.stdout.trim(), exitCode: res.code };
}

export async function isGitRepo(dir: string): Promise<boolean> {
  const r = await git(dir, ["rev-parse", "--is-inside-work-tree"], { allowFail: true }).catch(() => ({ exitCode: 1, stdout: "" }));
  return r.exitCode === 0 && r.stdout === "true";
}

const remotes = new Map<string, boolean>();

/** Whether `dir` has the remote; remembered per directory (remotes are set up once per checkout). */
export async function hasRemote(dir: string, name = "origin"): Promise<boolean> {
  const key = `${dir}\0${name}`;
  if (!remotes.has(key)) remotes.set(key, (await git(dir, ["remote"], { allowFail: true })).stdout.split("\n").includes(name));
  return remotes.get(key)!;
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
