import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Logger } from "pino";
import { featureBranch } from "../pipeline/item-id.js";
import { git, hasRemote, revParse } from "./git.js";
import { worktreePath } from "./worktree.js";

/** What the coder job needs from a pool: a prepared worktree for a first attempt, or nothing. */
/** When a taken worktree is replaced if the taker never says its coder started (see `take`). */
const REFILL_FALLBACK_MS = 2000;

export interface WorktreeSource {
  /**
   * `.huskies/worktrees/<id>` on a new branch `feature/story-<id>` at the latest fetched base, made
   * from a prepared worktree; undefined when none is ready (empty, stale, or the branch exists),
   * and the caller creates the worktree itself.
   */
  take(id: string): Promise<string | undefined>;
  /** The taker's coder process has started: the pool may spawn git to refill now. */
  refill(): void;
}

/** Prepared worktrees live beside the stories' ones under a name that is never an item id. */
const POOL_PREFIX = ".pool-";

interface Entry {
  path: string;
  /** The worktree's administrative directory in the common git dir (`worktrees/<name>`). */
  admin: string;
  head: string;
  busy: boolean;
}

/**
 * Worktrees checked out (detached) at the latest fetched `origin/<base>` before any story needs
 * one, so a claim turns into a running coder without `git worktree add` on its path (issue 15.3).
 *
 * `take` hands one over without spawning git: it writes the new branch ref, points the worktree's
 * HEAD at it, updates the worktree's recorded location, and renames the directory, in that order,
 * so a crash at any step leaves at most a `.pool-*` directory, which `start` clears. Everything
 * else (filling, refreshing after a fetch, clearing) runs in the background, one git command at a
 * time, off the claim path.
 */
export class WorktreePool implements WorktreeSource {
  private readonly entries: Entry[] = [];
  private size = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private commonDir: string | undefined;
  private remote = false;
  private stopped = false;
  private disabled = false;
  private nextIndex = 0;

  constructor(
    private readonly root: string,
    private readonly base: string,
    private readonly log: Logger,
  ) {}

  /** Clear what a previous run left, then fill to `size` in the background. */
  start(size: number): void {
    this.size = size;
    this.enqueue("prepare", async () => {
      this.remote = await hasRemote(this.root);
      // The hand-over writes ref files: only for the files ref backend (reftable has none).
      const storage = (await git(this.root, ["config", "--get", "extensions.refStorage"], { allowFail: true })).stdout;
      if (storage && storage !== "files") {
        this.log.info({ refStorage: storage }, "worktree pool off: refs are not stored as files");
        this.disabled = true;
        this.size = 0;
        return;
      }
      const dir = (await git(this.root, ["rev-parse", "--git-common-dir"])).stdout;
      this.commonDir = isAbsolute(dir) ? dir : resolve(this.root, dir);
      await this.clearLeftovers();
    });
    this.fill();
  }

  /** A new target size (config reload); extra entries are removed. */
  resize(size: number): void {
    this.size = this.disabled ? 0 : size;
    this.fill();
  }

  /** Ready entries at the current base. */
  readyCount(): number {
    const sha = this.baseSha();
    return this.entries.filter((e) => !e.busy && e.head === sha).length;
  }

  /** After a fetch: entries still at an older base are moved to the new one, in the background. */
  refresh(): void {
    this.enqueue("refresh", async () => {
      const sha = this.baseSha();
      if (!sha) return;
      for (const e of this.entries) {
        if (e.busy || e.head === sha || this.stopped) continue;
        e.busy = true;
        try {
          await git(e.path, ["checkout", "--quiet", "--detach", sha], { background: true });
          e.head = sha;
        } finally {
          e.busy = false;
        }
      }
    });
    this.fill();
  }

  async take(id: string): Promise<string | undefined> {
    const sha = this.baseSha();
    const entry = sha ? this.entries.find((e) => !e.busy && e.head === sha) : undefined;
    if (!entry || !this.commonDir) {
      // Empty or stale: the caller adds a worktree itself; catch up in the background.
      if (this.entries.length) this.refresh();
      return undefined;
    }
    const branch = featureBranch(id);
    const refFile = join(this.commonDir, "refs", "heads", ...branch.split("/"));
    if (existsSync(refFile) || this.packedRef(`refs/heads/${branch}`)) return undefined;
    const target = worktreePath(this.root, id);
    if (existsSync(target)) return undefined;
    this.entries.splice(this.entries.indexOf(entry), 1);
    let wroteRef = false;
    try {
      mkdirSync(dirname(refFile), { recursive: true });
      // `wx`: never overwrite a branch that appeared since the check above.
      writeFileSync(refFile, `${sha}\n`, { flag: "wx" });
      wroteRef = true;
      writeFileSync(join(entry.admin, "HEAD"), `ref: refs/heads/${branch}\n`);
      writeFileSync(join(entry.admin, "gitdir"), `${join(target, ".git")}\n`);
      renameSync(entry.path, target);
    } catch (err) {
      this.log.warn({ story: id, err: (err as Error).message }, "prepared worktree could not be handed over; adding one instead");
      if (wroteRef) rmSync(refFile, { force: true });
      this.enqueue("discard", () => this.remove(entry.path));
      return undefined;
    } finally {
      // Refill once the caller's coder has started (`refill`): a git spawn blocks this process for
      // milliseconds, and between here and that start lie the story's channel and the sandbox's
      // setup, which yield to the event loop. The timer only covers a job that never gets there.
      const fallback = setTimeout(() => this.refill(), REFILL_FALLBACK_MS);
      fallback.unref();
    }
    return target;
  }

  refill(): void {
    if (!this.stopped && this.entries.length < this.size) this.fill();
  }

  /** Stop background work (entries stay on disk; the next start clears them). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }

  /** Wait for the background work queued so far (tests). */
  idle(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  /** The sha of the base as last fetched, read from the ref files (no git spawn on the claim path). */
  private baseSha(): string | undefined {
    if (!this.commonDir) return undefined;
    const ref = this.remote ? `refs/remotes/origin/${this.base}` : `refs/heads/${this.base}`;
    const loose = join(this.commonDir, ...ref.split("/"));
    try {
      const text = readFileSync(loose, "utf8").trim();
      if (/^[0-9a-f]{40,64}$/.test(text)) return text;
    } catch {
      // Not a loose ref: look in packed-refs.
    }
    return this.packedRef(ref);
  }

  private packedRef(ref: string): string | undefined {
    try {
      for (const line of readFileSync(join(this.commonDir!, "packed-refs"), "utf8").split("\n")) {
        const [sha, name] = line.split(" ");
        if (name === ref && sha && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
      }
    } catch {
      // No packed refs.
    }
    return undefined;
  }

  private fill(): void {
    this.enqueue("fill", async () => {
      while (!this.stopped && this.commonDir && this.entries.length > this.size) {
        const e = this.entries.find((x) => !x.busy) ?? this.entries[0]!;
        this.entries.splice(this.entries.indexOf(e), 1);
        await this.remove(e.path);
      }
      while (!this.stopped && this.commonDir && this.entries.length < this.size) {
        const sha = this.baseSha() ?? (await revParse(this.root, this.remote ? `origin/${this.base}` : this.base, { background: true }));
        if (!sha) return;
        const path = join(this.root, ".huskies", "worktrees", `${POOL_PREFIX}${this.nextIndex++}`);
        await git(this.root, ["worktree", "add", "--quiet", "--detach", path, sha], { background: true });
        const admin = readFileSync(join(path, ".git"), "utf8")
          .replace(/^gitdir:\s*/, "")
          .trim();
        this.entries.push({ path, admin: isAbsolute(admin) ? admin : resolve(path, admin), head: sha, busy: false });
      }
    });
  }

  private async clearLeftovers(): Promise<void> {
    const dir = join(this.root, ".huskies", "worktrees");
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(POOL_PREFIX)) continue;
      await this.remove(join(dir, name));
      this.nextIndex = Math.max(this.nextIndex, Number(name.slice(POOL_PREFIX.length)) + 1 || 0);
    }
    await git(this.root, ["worktree", "prune"], { allowFail: true, background: true });
  }

  private async remove(path: string): Promise<void> {
    if (!path.includes(`${POOL_PREFIX}`)) return;
    await git(this.root, ["worktree", "remove", "--force", path], { allowFail: true, background: true });
    if (existsSync(path)) rmSync(path, { recursive: true, force: true });
  }

  private enqueue(what: string, fn: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.stopped && what !== "prepare") return;
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err: (err as Error).message, what }, "worktree pool: background step failed");
      }
    });
  }
}
