import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { inflateSync } from "node:zlib";
import { gitDirsOf } from "../runtime/sandbox.js";
import { readPlainFile, writeHostFile } from "./host-files.js";

/**
 * A confined run's own view of git. A linked worktree shares `refs/`, `packed-refs`, `config`,
 * `hooks` and `objects/` with the main repository, so letting a run write there would let it move
 * other stories' branches, `main` and `origin/main`, plant hooks or config that huskies' own git
 * then runs, or delete objects. Instead the run gets a small git directory of its own (`GIT_DIR`
 * in its environment, `GIT_WORK_TREE` its checkout): `HEAD` and the refs it needs copied in, the
 * index copied in, new objects written there while the repository's objects are read through
 * `GIT_ALTERNATE_OBJECT_DIRECTORIES` (mounted read-only). The repository itself is read-only to
 * the run, so a run that drops the variables can write nothing there either.
 *
 * After the run huskies takes back only what belongs to the story: objects whose content matches
 * their name, the story's own branch (compare-and-swap against its value at the start), and the
 * index. Nothing else the run wrote (other refs, config, hooks) is ever read. Costs a few small
 * file writes before the run (no git spawn on the claim path) and one pass over new objects after.
 */
export interface GitView {
  /** The view's git directory (writable by the run). */
  dir: string;
  /** The repository's object directories the run reads through (read-only). */
  objectDirs: string[];
  /** `GIT_DIR`, `GIT_WORK_TREE`, alternates and the view's config, for the run's environment. */
  env: Record<string, string>;
  commonDir: string;
  adminDir: string;
  ownBranch?: string;
  /** The own branch's value when the run started (undefined: the branch did not exist). */
  startSha?: string;
}

export interface GitViewSpec {
  cwd: string;
  /** Where the view lives: a fresh directory for this run. */
  dir: string;
  /** The branch the run may move (`feature/story-<id>`); none for the merge workspace. */
  ownBranch?: string;
  baseBranch: string;
  /** More refs the run may read (copied in like the base; never taken back): a conflict round's base (issue 29). */
  readRefs?: readonly string[];
  /** An excludes file huskies wrote outside the view (claude's sandbox placeholders). */
  excludesFile?: string;
  identity?: { name?: string; email?: string };
}

/** The view for a run in `cwd`; undefined when `cwd` is not a git checkout. */
export function openGitView(spec: GitViewSpec): GitView | undefined {
  const { gitDir: adminDir, gitCommonDir: commonDir } = gitDirsOf(spec.cwd);
  if (!adminDir || !commonDir) return undefined;
  const dir = spec.dir;
  mkdirSync(join(dir, "objects"), { recursive: true });
  mkdirSync(join(dir, "refs", "heads"), { recursive: true });
  const packed = packedRefs(commonDir);
  const head = (readPlainFile(join(adminDir, "HEAD"))?.toString("utf8") ?? "").trim();
  writeHostFile(join(dir, "HEAD"), `${head}\n`, { exclusive: true });
  const symbolic = /^ref: (refs\/heads\/\S+)$/.exec(head)?.[1];
  const copied = new Set<string>();
  const copyRef = (name: string) => {
    if (copied.has(name)) return;
    copied.add(name);
    const sha = readRef(commonDir, name, packed);
    if (!sha) return;
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeHostFile(join(dir, name), `${sha}\n`, { exclusive: true });
  };
  if (symbolic) copyRef(symbolic);
  for (const r of [`refs/heads/${spec.baseBranch}`, `refs/remotes/origin/${spec.baseBranch}`, ...(spec.readRefs ?? [])]) copyRef(r);
  if (existsSync(join(adminDir, "index"))) copyFileSync(join(adminDir, "index"), join(dir, "index"));
  // A sha256 repository needs its format named; everything else is git's default.
  if (/objectformat\s*=\s*sha256/i.test(readPlainFile(join(commonDir, "config"))?.toString("utf8") ?? "")) {
    writeHostFile(join(dir, "config"), "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n", {
      exclusive: true,
    });
  }
  const objectDirs = [join(commonDir, "objects"), ...alternatesOf(join(commonDir, "objects"))];
  const config: Array<[string, string]> = [
    ["gc.auto", "0"],
    ["maintenance.auto", "false"],
    ...(spec.excludesFile ? ([["core.excludesFile", spec.excludesFile]] as Array<[string, string]>) : []),
    ...(spec.identity?.name ? ([["user.name", spec.identity.name]] as Array<[string, string]>) : []),
    ...(spec.identity?.email ? ([["user.email", spec.identity.email]] as Array<[string, string]>) : []),
  ];
  const env: Record<string, string> = {
    GIT_DIR: dir,
    GIT_WORK_TREE: spec.cwd,
    GIT_ALTERNATE_OBJECT_DIRECTORIES: objectDirs.join(":"),
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  const ownBranch = spec.ownBranch;
  return {
    dir,
    objectDirs,
    env,
    commonDir,
    adminDir,
    ownBranch,
    startSha: ownBranch ? readRef(commonDir, `refs/heads/${ownBranch}`, packed) : undefined,
  };
}

export interface GitViewResult {
  objects: number;
  /** The own branch's new value, when the run moved it and it was taken. */
  branch?: string;
  /** Why something the run left was not taken (logged by the caller). */
  refused: string[];
}

/** Take back what belongs to the story (see `GitView`); the caller removes the view. Call after every process of the run is gone. */
export async function closeGitView(view: GitView): Promise<GitViewResult> {
  const result: GitViewResult = { objects: 0, refused: [] };
  try {
    const target = join(view.commonDir, "objects");
    result.objects = importLooseObjects(join(view.dir, "objects"), target, result.refused);
    await importPacks(join(view.dir, "objects", "pack"), view.commonDir, result.refused);
    if (view.ownBranch) takeBranch(view, result);
    const index = readPlainFile(join(view.dir, "index"));
    if (index) {
      const tmp = join(view.adminDir, `index.huskies-${process.pid}`);
      writeHostFile(tmp, index);
      renameSync(tmp, join(view.adminDir, "index"));
    }
  } catch (err) {
    result.refused.push(`taking the view back failed: ${(err as Error).message}`);
  }
  return result;
}

/** The own branch's value in the view, moved into the repository only if nobody else moved it meanwhile. */
function takeBranch(view: GitView, result: GitViewResult): void {
  const ref = `refs/heads/${view.ownBranch!}`;
  const sha = readRef(view.dir, ref);
  if (!sha || sha === view.startSha) return;
  const current = readRef(view.commonDir, ref);
  if (current !== view.startSha) return void result.refused.push(`${ref} moved outside the run (${current ?? "none"}); kept it`);
  if (!hasObject(view.objectDirs[0]!, sha)) return void result.refused.push(`${ref} → ${sha}: no such object`);
  const file = join(view.commonDir, ...ref.split("/"));
  mkdirSync(dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  writeHostFile(lock, `${sha}\n`, { exclusive: true });
  renameSync(lock, file);
  result.branch = sha;
}

const HEX = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** A ref's value from loose files or `packed-refs` (read once by the caller, or here), never through a link. */
export function readRef(gitDir: string, name: string, packed?: Map<string, string>): string | undefined {
  const loose = readPlainFile(join(gitDir, ...name.split("/")), 4096)
    ?.toString("utf8")
    .trim();
  if (loose && HEX.test(loose)) return loose;
  return (packed ?? packedRefs(gitDir)).get(name);
}

function packedRefs(gitDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (readPlainFile(join(gitDir, "packed-refs"))?.toString("utf8") ?? "").split("\n")) {
    const [sha, ref] = line.split(" ");
    if (ref && sha && HEX.test(sha)) out.set(ref, sha);
  }
  return out;
}

function hasObject(objects: string, sha: string): boolean {
  return existsSync(join(objects, sha.slice(0, 2), sha.slice(2))) || packedObjectLikely(objects);
}

/** Objects in packs are not looked up here; a missing one shows when git next reads the branch. */
function packedObjectLikely(objects: string): boolean {
  try {
    return readdirSync(join(objects, "pack")).some((n) => n.endsWith(".pack"));
  } catch {
    return false;
  }
}

/** Copy verified loose objects the repository lacks; returns how many. */
function importLooseObjects(from: string, to: string, refused: string[]): number {
  let n = 0;
  let dirs: string[];
  try {
    dirs = readdirSync(from).filter((d) => /^[0-9a-f]{2}$/.test(d));
  } catch {
    return 0;
  }
  for (const d of dirs) {
    if (!lstatSync(join(from, d)).isDirectory()) continue;
    for (const f of readdirSync(join(from, d))) {
      const name = d + f;
      if (!HEX.test(name) || existsSync(join(to, d, f))) continue;
      const data = readPlainFile(join(from, d, f));
      if (!data || !looseObjectMatches(data, name)) {
        refused.push(`object ${name}: not a valid object of that name`);
        continue;
      }
      mkdirSync(join(to, d), { recursive: true });
      try {
        writeHostFile(join(to, d, f), data, { exclusive: true, mode: 0o444 });
        n++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  }
  return n;
}

/** A loose object's inflated content hashes to its name (git trusts names; a planted object must not). */
export function looseObjectMatches(data: Buffer, name: string): boolean {
  try {
    const raw = inflateSync(data);
    const nul = raw.indexOf(0);
    const m = /^(blob|tree|commit|tag) (\d+)$/.exec(raw.subarray(0, nul).toString("latin1"));
    if (nul < 0 || !m || Number(m[2]) !== raw.length - nul - 1) return false;
    return (
      createHash(name.length === 64 ? "sha256" : "sha1")
        .update(raw)
        .digest("hex") === name
    );
  } catch {
    return false;
  }
}

/** Packs a run made (`git gc`, a fetch): git itself re-indexes each into the repository, checking every object. */
async function importPacks(packDir: string, commonDir: string, refused: string[]): Promise<void> {
  let packs: string[];
  try {
    packs = readdirSync(packDir).filter((n) => n.endsWith(".pack"));
  } catch {
    return;
  }
  for (const p of packs) {
    const data = readPlainFile(join(packDir, p), 2 * 1024 * 1024 * 1024);
    if (!data) continue;
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn("git", ["index-pack", "--stdin", "--fix-thin"], {
        env: { ...process.env, GIT_DIR: commonDir },
        stdio: ["pipe", "ignore", "ignore"],
      });
      child.once("error", () => resolve(null));
      child.once("close", (c) => resolve(c));
      child.stdin.on("error", () => undefined);
      child.stdin.end(data);
    });
    if (code !== 0) refused.push(`pack ${p}: git index-pack failed`);
  }
}

/** The object directories a repository borrows from (`objects/info/alternates`). */
function alternatesOf(objects: string): string[] {
  try {
    return readFileSync(join(objects, "info", "alternates"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => (l.startsWith("/") ? l : join(objects, l)));
  } catch {
    return [];
  }
}
