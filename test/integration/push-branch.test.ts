import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GitError } from "../../src/git/git.js";
import { pushBranch } from "../../src/git/worktree.js";
import { classifyPushError } from "../../src/pipeline/push-outcome.js";
import { createProject, git, type Project } from "../support/git-fixture.js";

let project: Project | undefined;
afterEach(() => {
  project?.cleanup();
  project = undefined;
});

function commitOn(root: string, branch: string, text: string): string {
  git(root, "checkout", "-q", "-B", branch, "origin/main");
  writeFileSync(join(root, "story.txt"), text);
  git(root, "add", "-A");
  git(root, "commit", "-qm", text);
  return git(root, "rev-parse", "HEAD");
}

function pushedBy(root: string, branch: string): string {
  git(root, "push", "-q", "origin", `${branch}:refs/heads/${branch}`);
  return git(root, "rev-parse", branch);
}

function tipOf(p: Project, branch: string): string {
  return git(p.origin, "rev-parse", `refs/heads/${branch}`);
}

async function pushError(push: Promise<void>): Promise<GitError> {
  const err: unknown = await push.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GitError);
  return err as GitError;
}

describe("pushing a story's branch", () => {
  // Node A ran the story, pushed, then lost its claim (a restart); node B, the claim's holder now,
  // ran it again from the base. Found by the soak as push_rejected. B either never heard of A's
  // tip (cloned before it: "fetch first") or has it in its view ("non-fast-forward").
  it.each([
    ["fetch first", true],
    ["non-fast-forward", false],
  ])("the claim's holder replaces the tip an earlier holder left (%s)", async (_answer, bFirst) => {
    project = createProject();
    const branch = "feature/story-1_story_rerun";
    const b0 = bFirst ? project.clone("b") : undefined;
    const a = project.clone("a");
    commitOn(a, branch, "A's attempt");
    pushedBy(a, branch);
    const b = b0 ?? project.clone("b");
    const mine = commitOn(b, branch, "B's attempt");
    const theirs = tipOf(project, branch);
    expect(await pushBranch(b, branch, { supersede: true })).toEqual({ replaced: theirs });
    expect(tipOf(project, branch)).toBe(mine);
  });

  it("without supersede (reconcile after a restart) nothing is forced: the tip on origin stays and the push fails as a race", async () => {
    project = createProject();
    const branch = "feature/story-2_story_reconciled";
    const a = project.clone("a");
    commitOn(a, branch, "the current holder's attempt");
    const theirs = pushedBy(a, branch);
    const b = project.clone("b");
    commitOn(b, branch, "work from before the restart");
    const err = await pushError(pushBranch(b, branch));
    expect(classifyPushError(err.stderr).kind).toBe("race");
    expect(tipOf(project, branch)).toBe(theirs);
  });

  it("a hook's refusal stands, on the replacing push too, in the hook's own words", async () => {
    project = createProject();
    const branch = "feature/story-3_story_refused";
    const a = project.clone("a");
    commitOn(a, branch, "A's attempt");
    const earlier = pushedBy(a, branch);
    writeFileSync(join(project.origin, "hooks", "pre-receive"), "#!/bin/sh\necho 'no pushes today' >&2\nexit 1\n", { mode: 0o755 });
    const b = project.clone("b");
    commitOn(b, branch, "B's attempt");
    const err = await pushError(pushBranch(b, branch, { supersede: true }));
    expect(classifyPushError(err.stderr)).toEqual({ kind: "refused", message: "no pushes today\n(pre-receive hook declined)" });
    expect(tipOf(project, branch)).toBe(earlier);
  });

  it("the replacement is leased to the tip just read: a writer that pushed in between keeps its tip", async () => {
    project = createProject();
    const branch = "feature/story-4_story_raced";
    const a = project.clone("a");
    commitOn(a, branch, "A's attempt");
    pushedBy(a, branch);
    // B reads origin through a copy taken now (ls-remote uses the fetch URL) but pushes to origin
    // itself: whatever lands on origin after the copy is a writer between B's read and B's push.
    const seenByB = join(project.dir, "seen-by-b.git");
    git(project.dir, "clone", "-q", "--mirror", project.origin, seenByB);
    const c = project.clone("c");
    commitOn(c, branch, "C's attempt");
    git(c, "push", "-q", "--force", "origin", `${branch}:refs/heads/${branch}`);
    const racer = tipOf(project, branch);
    const b = project.clone("b");
    git(b, "remote", "set-url", "origin", seenByB);
    git(b, "remote", "set-url", "--push", "origin", project.origin);
    commitOn(b, branch, "B's attempt");
    const err = await pushError(pushBranch(b, branch, { supersede: true }));
    expect(err.stderr).toMatch(/stale info/);
    expect(tipOf(project, branch)).toBe(racer);
  });
});
