import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { COMMIT_SCRIPT, commandSlots, projectToml, sandboxReads } from "../support/coders.js";
import { jobStarts, waitForLine } from "../support/fault-kit.js";
import { createProject, git, originBranches, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

describe("a worktree deleted while its coder runs (issue 24, row 5)", () => {
  it("is the node's trouble, not the story's: the claim goes back untouched, the worktree is made again after a prune, the story goes on", async () => {
    project = createProject();
    const signals = join(project.dir, "signals");
    mkdirSync(signals);
    const go = join(signals, "go");
    const coder = `while [ ! -f ${go} ]; do sleep 0.1; done; ${COMMIT_SCRIPT}`;
    // A short pause, so the same agent takes the story up again within the test.
    writeFileSync(
      join(project.root, ".huskies", "project.toml"),
      projectToml({ max_coders: 1, limit_backoff_secs: 1 }) + sandboxReads(signals),
    );
    writeFileSync(join(project.root, ".huskies", "agents.toml"), commandSlots(1, coder));
    git(project.root, "commit", "-qam", "a coder that waits");
    git(project.root, "push", "-q", "origin", "main");
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    const a = await cluster.agent(root, server.ws);

    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Lose my folder", stage: "current" });
    await waitFor(() => a.logged("agent process started").some((l) => l.story === story.id && Number(l.pid) > 0), "the coder to start");
    rmSync(join(root, ".huskies", "worktrees", story.id), { recursive: true, force: true });
    writeFileSync(go, "");

    const trouble = await waitForLine(a, (l) => String(l.msg).startsWith("node trouble: claim given back"), "node trouble");
    expect(trouble).toMatchObject({ story: story.id, kind: "missing_path" });
    const done = await waitFor(
      async () => {
        const s = await getJson<Item>(`${server.http}/api/stories/${story.id}`);
        return s.stage === "qa" ? s : undefined;
      },
      "the story in qa after the second attempt",
      90_000,
    );
    expect(done.retries).toBe(0);
    expect(done.failure).toBeUndefined();
    expect(done.blocked).toBeNull();
    expect(originBranches(project.origin)).toContain(`feature/story-${story.id}`);
    // Two starts, the second no sooner than the breaker allows (5 s; the node's own pause is 1 s);
    // git never refused the path. The breaker reads its clock a moment before each start's log
    // line is stamped, and that moment can differ by some ms between the two on a loaded machine.
    const starts = jobStarts(a, story.id);
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(4900);
    expect(a.logs.some((l) => /already registered/.test(JSON.stringify(l)))).toBe(false);
  }, 120_000);
});
