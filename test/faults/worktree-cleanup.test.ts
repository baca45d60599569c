import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** A worktree for a story this node's replica has never heard of, as a lost replica would leave. */
function strayWorktree(root: string, id: string): string {
  const path = join(root, ".huskies", "worktrees", id);
  git(root, "worktree", "add", "-q", "-b", `feature/story-${id}`, path, "origin/main");
  return path;
}

describe("worktree cleanup never loses work", () => {
  it("a startup that does not know a story keeps its worktree with uncommitted or unpushed work, removes a clean one, and reports what it kept", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    const wip = strayWorktree(root, "41_story_lost_wip");
    writeFileSync(join(wip, "WIP.txt"), "half a day of work\n");
    const unpushed = strayWorktree(root, "42_story_lost_commit");
    writeFileSync(join(unpushed, "done.txt"), "committed, never pushed\n");
    git(unpushed, "add", "-A");
    git(unpushed, "commit", "-qm", "work nobody pushed");
    const clean = strayWorktree(root, "43_story_lost_clean");

    const agent = await cluster.agent(root, server.ws);
    await waitFor(() => agent.logged("worktrees reconciled").length === 1, "the reconcile at startup");
    expect(readFileSync(join(wip, "WIP.txt"), "utf8")).toBe("half a day of work\n");
    expect(existsSync(join(unpushed, "done.txt"))).toBe(true);
    expect(existsSync(clean)).toBe(false);

    const kept = await waitFor(
      async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === agent.nodeId)?.keptWorktrees,
      "the kept worktrees in the node's entry",
    );
    expect(kept).toEqual(
      expect.arrayContaining([
        { id: "41_story_lost_wip", state: "uncommitted" },
        { id: "42_story_lost_commit", state: "unpushed" },
      ]),
    );
    expect(kept).toHaveLength(2);
    const status = await runCli(["status"], { env: { HUSKIES_SERVER: server.http } });
    expect(status.stdout).toContain("kept worktree 41_story_lost_wip (uncommitted)");
    expect(status.stdout).toContain("kept worktree 42_story_lost_commit (unpushed)");
  });

  it("archiving a story whose worktree has uncommitted work keeps the worktree", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    const agent = await cluster.agent(root, server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Archived with WIP", stage: "current" });
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa", "the story in qa");
    const wt = join(root, ".huskies", "worktrees", s.id);
    writeFileSync(join(wt, "WIP.txt"), "an afterthought\n");
    expect((await runCli(["story", "move", s.id, "archived"], { env: { HUSKIES_SERVER: server.http } })).code).toBe(0);
    await waitFor(() => agent.logged("archived: worktree kept (it holds work)").length === 1, "the worktree kept");
    expect(readFileSync(join(wt, "WIP.txt"), "utf8")).toBe("an afterthought\n");
  });
});
