import { spawn } from "node:child_process";
import { assertItemId, featureBranch } from "../pipeline/item-id.js";
import { MAX_DIFF_FILES, MAX_DIFF_PATCH_BYTES } from "../config/defaults.js";
import { git, gitTimeoutMs, hasRemote, revParse } from "./git.js";

export interface DiffFile {
  path: string;
  additions: number;
  deletions: number;
  /** Binary files have no line counts. */
  binary?: true;
}

export interface BranchDiff {
  base: string;
  branch: string;
  files: DiffFile[];
  /** Unified diff (`a/` and `b/` prefixes, no colour), cut at `MAX_DIFF_PATCH_BYTES`. */
  patch: string;
  /** The patch or the file list was cut at its limit. */
  truncated: boolean;
}

/** Git answered, but not with a diff (network, locks, a broken repository): not the caller's fault. */
export class DiffUnavailable extends Error {}

const BRANCH_NAME = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]+$/;

/**
 * The diff of a story's feature branch against the base branch, as the origin has them: fetch both,
 * then `git diff origin/<base>...origin/feature/story-<id>` (what the branch adds since it forked).
 * Undefined when the branch is not pushed. A project without an `origin` diffs its local branches.
 * Git runs with argument vectors only; the id is validated before it reaches a ref name.
 */
export async function branchDiff(
  root: string,
  base: string,
  storyId: string,
  limits = { maxPatchBytes: MAX_DIFF_PATCH_BYTES, maxFiles: MAX_DIFF_FILES },
): Promise<BranchDiff | undefined> {
  assertItemId(storyId);
  if (!BRANCH_NAME.test(base)) throw new Error(`invalid base branch name: ${JSON.stringify(base)}`);
  const branch = featureBranch(storyId);
  let left = `refs/heads/${base}`;
  let right = `refs/heads/${branch}`;
  if (await hasRemote(root)) {
    left = `refs/remotes/origin/${base}`;
    right = `refs/remotes/origin/${branch}`;
    const fetched = await git(
      root,
      ["fetch", "--quiet", "--no-tags", "origin", `+refs/heads/${branch}:${right}`, `+refs/heads/${base}:${left}`],
      { allowFail: true },
    );
    // "couldn't find remote ref": not pushed (or deleted after the merge). Any other failure (a lock
    // held by a concurrent fetch, the origin unreachable) falls back to the last fetched refs.
    if (fetched.exitCode !== 0 && (await missingOnOrigin(root, branch))) return undefined;
  }
  if (!(await revParse(root, right))) return undefined;
  if (!(await revParse(root, left))) throw new DiffUnavailable(`base branch ${base} not found`);
  const range = `${left}...${right}`;
  const common = ["-c", "core.quotepath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames"];
  const numstat = await git(root, [...common, "--numstat", "-z", range, "--"], { allowFail: true });
  if (numstat.exitCode !== 0) throw new DiffUnavailable(`git diff failed for ${branch}`);
  const all = parseNumstat(numstat.stdout);
  const patch = await capped(root, [...common, "--src-prefix=a/", "--dst-prefix=b/", range, "--"], limits.maxPatchBytes);
  return {
    base,
    branch,
    files: all.slice(0, limits.maxFiles),
    patch: patch.text,
    truncated: patch.truncated || all.length > limits.maxFiles,
  };
}

/** Whether the feature branch is missing on the origin (checked with ls-remote after a failed fetch). */
async function missingOnOrigin(root: string, branch: string): Promise<boolean> {
  const r = await git(root, ["ls-remote", "--heads", "origin", `refs/heads/${branch}`], { allowFail: true });
  return r.exitCode === 0 && r.stdout === "";
}

/** `git diff --numstat -z` without renames: `added\tdeleted\tpath\0`, `-\t-\tpath` for binaries. */
export function parseNumstat(out: string): DiffFile[] {
  const files: DiffFile[] = [];
  for (const rec of out.split("\0")) {
    const m = /^\s*(-|\d+)\t(-|\d+)\t([\s\S]+)$/.exec(rec);
    if (!m) continue;
    files.push(
      m[1] === "-"
        ? { path: m[3]!, additions: 0, deletions: 0, binary: true }
        : { path: m[3]!, additions: Number(m[1]), deletions: Number(m[2]) },
    );
  }
  return files;
}

/** Run git and keep at most `max` bytes of its output, cut at a line end; stop git once past it. */
function capped(cwd: string, args: string[], max: number): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      if (truncated) return;
      chunks.push(d);
      size += d.length;
      if (size > max) {
        truncated = true;
        child.kill();
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    // Bounded like every git command (rule 1): a diff that hangs answers "unavailable".
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, gitTimeoutMs());
    timer.unref();
    child.on("error", (err) => reject(new DiffUnavailable(`git failed to start: ${err.message}`)));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new DiffUnavailable(`git ${args[0] ?? ""} timed out after ${Math.round(gitTimeoutMs() / 1000)}s`));
      if (!truncated && code !== 0) return reject(new DiffUnavailable(`git diff failed: ${stderr.trim().split("\n").pop() ?? code}`));
      let text = Buffer.concat(chunks).subarray(0, max).toString("utf8");
      if (truncated) text = text.slice(0, text.lastIndexOf("\n") + 1);
      resolve({ text, truncated });
    });
  });
}

/**
 * The paths a story's pushed branch changes against the base (three dots: since it forked, or
 * since it last merged the base), and the branch's head. Cheap next to `branchDiff` (names only,
 * no patch); when the head is `knownHead`, the diff is skipped and `files` is undefined. Undefined
 * when the branch is not pushed.
 */
export async function branchFiles(
  root: string,
  base: string,
  storyId: string,
  knownHead?: string,
  /** Run git at a low CPU priority (the sequencer's cache, never a person waiting for it). */
  opts: { background?: boolean } = {},
): Promise<{ head: string; files?: string[] } | undefined> {
  const background = opts.background;
  assertItemId(storyId);
  if (!BRANCH_NAME.test(base)) throw new Error(`invalid base branch name: ${JSON.stringify(base)}`);
  const branch = featureBranch(storyId);
  let left = `refs/heads/${base}`;
  let right = `refs/heads/${branch}`;
  if (await hasRemote(root)) {
    left = `refs/remotes/origin/${base}`;
    right = `refs/remotes/origin/${branch}`;
    await git(root, ["fetch", "--quiet", "--no-tags", "origin", `+refs/heads/${branch}:${right}`, `+refs/heads/${base}:${left}`], {
      allowFail: true,
      background,
    });
  }
  const head = await revParse(root, right, { background });
  if (!head) return undefined;
  if (head === knownHead) return { head };
  const r = await git(
    root,
    ["-c", "core.quotepath=false", "diff", "--no-color", "--no-renames", "--name-only", "-z", `${left}...${right}`, "--"],
    { allowFail: true, background },
  );
  if (r.exitCode !== 0) throw new DiffUnavailable(`git diff failed for ${branch}`);
  return { head, files: r.stdout.split("\0").filter(Boolean).slice(0, MAX_DIFF_FILES) };
}
