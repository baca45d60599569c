import { spawn } from "node:child_process";
import { setPriority } from "node:os";
import { GIT_TIMEOUT_SECS } from "../config/defaults.js";

/** What a failed git command said: its `fatal:`/`error:` lines first (hints last), bounded. */
function headOf(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const important = lines.filter((l) => !l.startsWith("hint:"));
  return (important.length ? important : lines).slice(-6).join(" | ").slice(0, 2000);
}

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | undefined,
  ) {
    super(`git ${args.join(" ")} failed: ${headOf(stderr)}`);
  }
}

/** How long one git command may run before it is killed (rule 1: every wait is bounded). */
let timeoutMs = GIT_TIMEOUT_SECS * 1000;

/** Set from project.toml `git_timeout_secs` at start and on every config change. */
export function configureGit(opts: { timeoutMs: number }): void {
  timeoutMs = opts.timeoutMs;
}

/** The deadline of one git command now (for the few callers that spawn git themselves). */
export function gitTimeoutMs(): number {
  return timeoutMs;
}

/**
 * Niceness of git that runs in the background (the rendezvous' diffs of pushed branches, the
 * worktree pool, base refreshes): a `git fetch` and its pack work take a core for a while, and on a
 * small machine that delayed the next claim. Whatever the node does for a claim keeps the CPU.
 */
const BACKGROUND_NICE = 10;

/** Lower a process' CPU priority (and that of what it forks from now on); where not allowed, it runs as it is. */
export function runInBackground(pid: number | undefined): void {
  if (!pid) return;
  try {
    setPriority(pid, BACKGROUND_NICE);
  } catch {
    // Not permitted here, or already gone: it simply runs at the normal priority.
  }
}

/** Output kept from one git command; more is a bug or an attack, never something huskies reads. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/**
 * Run git with an argument vector (never a shell string), so nothing from a story can be
 * interpreted. Hooks and prompts are disabled: agents run unattended. Every command has a
 * deadline (`git_timeout_secs`, or `opts.timeoutMs`): git runs in its own process group, and the
 * whole group (ssh, a remote helper) is killed when it passes, so an origin that stops answering
 * is an error ("timed out after …"), never a step that waits for ever.
 */
export async function git(
  cwd: string,
  args: string[],
  opts: { allowFail?: boolean; env?: Record<string, string>; timeoutMs?: number; background?: boolean } = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  // Two fetches into one repository (a base refresh and the mergemaster's, or the rendezvous' diff
  // of a pushed branch) race for the same remote-tracking ref, and the loser fails with "cannot
  // lock ref": the chaos run saw merges retried for it. Such a fetch is tried again; it is no
  // trouble of the node and no failure of the story.
  for (let attempt = 1; ; attempt++) {
    const res = await gitOnce(cwd, args, opts);
    if (args[0] !== "fetch" || res.exitCode === 0 || attempt >= FETCH_ATTEMPTS || !REF_LOCK_RACE.test(res.stderr)) {
      if (res.exitCode !== 0 && !opts.allowFail) throw new GitError(args, res.stderr, res.exitCode);
      return res;
    }
    await new Promise((r) => setTimeout(r, 50 * attempt));
  }
}

const FETCH_ATTEMPTS = 3;
const REF_LOCK_RACE = /cannot lock ref|Unable to create '[^']*\.lock': File exists/;

async function gitOnce(
  cwd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; background?: boolean },
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  // node's spawn, not execa: git runs on the claim-to-coder path and every millisecond of
  // process-spawn overhead there shows in claim latency.
  const limit = opts.timeoutMs ?? timeoutMs;
  const res = await new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    const child = spawn("git", args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", ...opts.env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (opts.background) runInBackground(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const keep = (to: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_OUTPUT) to.push(chunk);
    };
    child.stdout.on("data", keep(out));
    child.stderr.on("data", keep(err));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, limit);
    timer.unref();
    let startError: Error | undefined;
    child.once("error", (e) => {
      startError = e;
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) stderr += `\ngit ${args[0] ?? ""} timed out after ${Math.round(limit / 1000)}s and was killed`;
      if (startError) stderr = stderr || startError.message;
      resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr, code: timedOut || startError ? (code ?? 1) || 1 : (code ?? 1) });
    });
  });
  return { stdout: res.stdout.trim(), stderr: res.stderr, exitCode: res.code };
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

export async function revParse(dir: string, ref: string, opts: { background?: boolean } = {}): Promise<string | undefined> {
  const r = await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { allowFail: true, background: opts.background });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Commits on `branch` that `base` does not have; 0 when either ref is missing. */
export async function commitsAhead(dir: string, base: string, branch: string): Promise<number> {
  if (!(await revParse(dir, base)) || !(await revParse(dir, branch))) return 0;
  const r = await git(dir, ["rev-list", "--count", `${base}..${branch}`]);
  return Number.parseInt(r.stdout, 10) || 0;
}

export async function fetchOrigin(dir: string, opts: { background?: boolean } = {}): Promise<void> {
  if (await hasRemote(dir)) await git(dir, ["fetch", "--quiet", "--prune", "origin"], { background: opts.background });
}
