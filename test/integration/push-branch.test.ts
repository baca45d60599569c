import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pushBranch } from "../../src/git/worktree.js";
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

describe("pushing a story's branch", () => {
  it("replaces the tip an earlier holder left (a re-run elsewhere after a restart), found by the soak as push_rejected", async () => {
    project = createProject();
    const branch = "feature/story-1_story_rerun";
    // Node A ran the story, pushed, then lost its claim; node B ran it again from the base.
    const a = project.clone("a");
    commitOn(a, branch, "A's attempt");
    git(a, "push", "-q", "origin", `${branch}:refs/heads/${branch}`);
    const b = project.clone("b");
    const mine = commitOn(b, branch, "B's attempt");
    await pushBranch(b, branch);
    expect(git(project.origin, "rev-parse", `refs/heads/${branch}`)).toBe(mine);
  });

  it("a hook's refusal still stands", async () => {
    project = createProject();
    const branch = "feature/story-2_story_refused";
    writeFileSync(join(project.origin, "hooks", "pre-receive"), "#!/bin/sh\necho 'no pushes today' >&2\nexit 1\n", { mode: 0o755 });
    const b = project.clone("b");
    commitOn(b, branch, "B's attempt");
    await expect(pushBranch(b, branch)).rejects.toThrow(/no pushes today/);
  });
});
