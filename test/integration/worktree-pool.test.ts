import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WorktreePool } from "../../src/git/worktree-pool.js";
import { ensureWorktree, removeWorktreeIfSafe, worktreePath } from "../../src/git/worktree.js";
import { isItemId } from "../../src/pipeline/item-id.js";
import { createProject, git, originBranches, type Project } from "../support/git-fixture.js";
import { silent } from "../support/in-process.js";
import { waitFor } from "../support/wait-for.js";

let project: Project | undefined;
const pools: WorktreePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.stop()));
  project?.cleanup();
  project = undefined;
});

async function readyPool(root: string, size: number): Promise<WorktreePool> {
  const pool = new WorktreePool(root, "main", silent);
  pools.push(pool);
  pool.start(size);
  await pool.idle();
  await waitFor(() => pool.readyCount() === size, `${size} prepared worktrees`);
  return pool;
}

/** A commit on origin/main made from another clone, then fetched into `root`. */
function moveOriginBase(p: Project, root: string): string {
  const other = p.clone(`other-${Date.now()}`);
  writeFileSync(join(other, "NEWS.md"), "moved\n");
  git(other, "add", "-A");
  git(other, "commit", "-qm", "move the base");
  git(other, "push", "-q", "origin", "main");
  git(root, "fetch", "-q", "origin");
  return git(root, "rev-parse", "origin/main");
}

describe("prepared worktrees (worktree_pool)", () => {
  it("hands a prepared worktree to a story on its new branch, and git agrees in every way", async () => {
    project = createProject();
    const root = project.clone("agent");
    const pool = await readyPool(root, 2);
    const id = "7_story_pooled";
    const path = await pool.take(id);
    expect(path).toBe(worktreePath(root, id));
    // Nothing is refilled on the claim path: git waits until the taker's coder has started.
    expect(pool.readyCount()).toBe(1);
    expect(git(path!, "rev-parse", "--abbrev-ref", "HEAD")).toBe("feature/story-7_story_pooled");
    expect(git(path!, "rev-parse", "HEAD")).toBe(git(root, "rev-parse", "origin/main"));
    expect(git(path!, "status", "--porcelain")).toBe("");
    const list = git(root, "worktree", "list", "--porcelain");
    expect(list).toContain(`worktree ${path}\n`);
    expect(list).toContain("branch refs/heads/feature/story-7_story_pooled");
    expect(list).not.toContain("prunable");

    // The coder's work: commit and push from the handed-over worktree.
    writeFileSync(join(path!, "work.txt"), "done\n");
    git(path!, "add", "-A");
    git(path!, "commit", "-qm", "work");
    git(path!, "push", "-q", "origin", "feature/story-7_story_pooled:refs/heads/feature/story-7_story_pooled");
    expect(originBranches(project.origin)).toContain("feature/story-7_story_pooled");

    // Archiving removes it like any worktree, and git forgets it completely.
    expect(await removeWorktreeIfSafe(root, id)).toEqual({ removed: true, state: "clean" });
    expect(existsSync(path!)).toBe(false);
    git(root, "worktree", "prune");
    expect(git(root, "worktree", "list", "--porcelain")).not.toContain(id);
    expect(git(root, "fsck", "--no-progress", "--connectivity-only")).toBe("");

    // The pool refills once the taker says its coder started, under names that are never item ids.
    pool.refill();
    await pool.idle();
    expect(pool.readyCount()).toBe(2);
    const names = git(root, "worktree", "list", "--porcelain")
      .split("\n")
      .filter((l) => l.startsWith("worktree "))
      .map((l) => l.split("/").at(-1));
    expect(names.filter((n) => n!.startsWith(".pool-"))).toHaveLength(2);
    expect(names.some((n) => isItemId(n))).toBe(false);
  });

  it("is stale once the base moved: the caller adds its own worktree until the pool has caught up", async () => {
    project = createProject();
    const root = project.clone("agent");
    const pool = await readyPool(root, 1);
    const moved = moveOriginBase(project, root);
    expect(await pool.take("8_story_stale")).toBeUndefined();
    // ensureWorktree falls back to `git worktree add` from the fetched base.
    const path = await ensureWorktree(root, "8_story_stale", "main", { fetch: false, pool });
    expect(git(path, "rev-parse", "HEAD")).toBe(moved);
    pool.refresh();
    await pool.idle();
    const fresh = await pool.take("9_story_fresh");
    expect(fresh).toBe(worktreePath(root, "9_story_fresh"));
    expect(git(fresh!, "rev-parse", "HEAD")).toBe(moved);
    expect(git(fresh!, "status", "--porcelain")).toBe("");
  });

  it("never reuses an existing branch: a retried story gets its own branch back through the fallback", async () => {
    project = createProject();
    const root = project.clone("agent");
    const pool = await readyPool(root, 1);
    git(root, "branch", "feature/story-10_story_again", "origin/main");
    expect(await pool.take("10_story_again")).toBeUndefined();
    expect(pool.readyCount()).toBe(1);
    const path = await ensureWorktree(root, "10_story_again", "main", { fetch: false, pool });
    expect(git(path, "rev-parse", "--abbrev-ref", "HEAD")).toBe("feature/story-10_story_again");
  });

  it("clears prepared worktrees a previous run left, and size 0 keeps none", async () => {
    project = createProject();
    const root = project.clone("agent");
    mkdirSync(join(root, ".huskies", "worktrees"), { recursive: true });
    git(root, "worktree", "add", "-q", "--detach", join(root, ".huskies", "worktrees", ".pool-5"), "origin/main");
    writeFileSync(join(root, ".huskies", "worktrees", ".pool-5", "junk.txt"), "left behind\n");
    const pool = await readyPool(root, 1);
    expect(existsSync(join(root, ".huskies", "worktrees", ".pool-5"))).toBe(false);
    expect(git(root, "worktree", "list", "--porcelain")).not.toContain(".pool-5");
    pool.resize(0);
    await pool.idle();
    expect(pool.readyCount()).toBe(0);
    expect(git(root, "worktree", "list", "--porcelain")).not.toContain(".pool-");
    expect(await pool.take("11_story_none")).toBeUndefined();
  });
});
