import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { branchDiff, parseNumstat, type BranchDiff } from "../../src/git/branch-diff.js";
import { diffRoutes } from "../../src/server/diff-routes.js";

const ID = "7_story_greet_visitors";
let project: Project | undefined;
afterEach(() => project?.cleanup());

/** A project whose feature branch (pushed from another checkout) adds, changes and removes files. */
function projectWithPushedBranch(): Project {
  project = createProject({ files: { "old.txt": "to be removed\n", "src/app.js": "console.log('hi');\nexport {};\n" } });
  const coder = project.clone("coder");
  git(coder, "checkout", "-q", "-b", `feature/story-${ID}`);
  writeFileSync(join(coder, "src", "app.js"), "console.log('hello');\nexport const greet = (n) => `Hello, ${n}`;\n");
  writeFileSync(join(coder, "new file ü.md"), "# Greeting\n\nSays hello.\n");
  writeFileSync(join(coder, "logo.bin"), Buffer.from([0, 1, 2, 0, 255, 0]));
  git(coder, "rm", "-q", "old.txt");
  git(coder, "add", "-A");
  git(coder, "commit", "-qm", "Greet visitors");
  git(coder, "push", "-q", "origin", `feature/story-${ID}`);
  // The base moves on after the fork: the story's diff must not show it.
  writeFileSync(join(project.root, "unrelated.txt"), "someone else's work\n");
  git(project.root, "add", "-A");
  git(project.root, "commit", "-qm", "Unrelated");
  git(project.root, "push", "-q", "origin", "main");
  return project;
}

describe("branchDiff", () => {
  it("lists the files the pushed branch changes since it forked, with counts and the patch", async () => {
    const p = projectWithPushedBranch();
    const d = (await branchDiff(p.root, "main", ID))!;
    expect(d).toMatchObject({ base: "main", branch: `feature/story-${ID}`, truncated: false });
    expect([...d.files].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: "logo.bin", additions: 0, deletions: 0, binary: true },
      { path: "new file ü.md", additions: 3, deletions: 0 },
      { path: "old.txt", additions: 0, deletions: 1 },
      { path: "src/app.js", additions: 2, deletions: 2 },
    ]);
    expect(d.patch).toContain("diff --git a/src/app.js b/src/app.js");
    expect(d.patch).toContain("+export const greet = (n) => `Hello, ${n}`;");
    expect(d.patch).toContain("-console.log('hi');");
    expect(d.patch).not.toContain("unrelated.txt");
    expect(d.patch).not.toContain("\x1b[");
  });

  it("is undefined while the branch is not pushed, and rejects bad ids and branch names", async () => {
    project = createProject();
    expect(await branchDiff(project.root, "main", ID)).toBeUndefined();
    await expect(branchDiff(project.root, "main", "../etc")).rejects.toThrow(/invalid item id/);
    await expect(branchDiff(project.root, "--upload-pack=x", ID)).rejects.toThrow(/invalid base branch/);
  });

  it("cuts a large patch at a line end and says so", async () => {
    const p = projectWithPushedBranch();
    const d = (await branchDiff(p.root, "main", ID, { maxPatchBytes: 200, maxFiles: 2 }))!;
    expect(d.truncated).toBe(true);
    expect(d.files).toHaveLength(2);
    expect(Buffer.byteLength(d.patch)).toBeLessThanOrEqual(200);
    expect(d.patch.endsWith("\n")).toBe(true);
  });

  it("parses numstat records", () => {
    expect(parseNumstat("1\t2\ta b.txt\0-\t-\timg.png\0")).toEqual([
      { path: "a b.txt", additions: 1, deletions: 2 },
      { path: "img.png", additions: 0, deletions: 0, binary: true },
    ]);
  });
});

describe("GET /stories/:id/diff", () => {
  it("serves the diff, 404 before the push or for an unknown story, 400 for a bad id", async () => {
    const p = projectWithPushedBranch();
    const app = diffRoutes({ root: p.root, baseBranch: () => "main", hasStory: (id) => id === ID || id === "8_story_not_pushed" });
    const ok = await app.request(`/stories/${ID}/diff`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as BranchDiff).files.map((f) => f.path)).toContain("src/app.js");
    const notPushed = await app.request("/stories/8_story_not_pushed/diff");
    expect(notPushed.status).toBe(404);
    expect(await notPushed.json()).toEqual({ error: "the branch of 8_story_not_pushed is not pushed yet" });
    expect((await app.request("/stories/9_story_unknown/diff")).status).toBe(404);
    expect((await app.request("/stories/..%2F..%2Fetc/diff")).status).toBe(400);
  });

  it("answers concurrent requests for one story with one git run", async () => {
    let runs = 0;
    const app = diffRoutes({
      root: "/nonexistent",
      baseBranch: () => "main",
      hasStory: () => true,
      diff: async () => {
        runs += 1;
        await new Promise((r) => setImmediate(r));
        return { base: "main", branch: `feature/story-${ID}`, files: [], patch: "", truncated: false };
      },
    });
    const res = await Promise.all([1, 2, 3].map(() => app.request(`/stories/${ID}/diff`)));
    expect(res.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(runs).toBe(1);
  });

  it("serves the last fetched diff when the origin is unreachable, and a 503 with a message when git cannot answer", async () => {
    const p = projectWithPushedBranch();
    const app = diffRoutes({ root: p.root, baseBranch: () => "main", hasStory: () => true });
    expect((await app.request(`/stories/${ID}/diff`)).status).toBe(200);
    rmSync(p.origin, { recursive: true, force: true });
    const cached = await app.request(`/stories/${ID}/diff`);
    expect(cached.status).toBe(200);
    expect(((await cached.json()) as BranchDiff).files).toHaveLength(4);
    const noBase = diffRoutes({ root: p.root, baseBranch: () => "no-such-base", hasStory: () => true });
    const res = await noBase.request(`/stories/${ID}/diff`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: "base branch no-such-base not found" });
  });
});
