import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, originBranches, type Project } from "../support/git-fixture.js";
import { COMMIT_SCRIPT, commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

describe.skipIf(missingSandboxTools().length > 0 && !process.env.CI)("a node that dies during a confined run", () => {
  it("takes back the commit the run left in its git view at restart, and pushes it", async () => {
    // Commits (into its git view), says so, then works on until the agent is killed under it.
    const script = `${COMMIT_SCRIPT} && touch .committed && sleep 600`;
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1, script) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    const first = await cluster.agent(root, server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Committed in the view", stage: "current" });
    await waitFor(() => existsSync(join(root, ".huskies", "worktrees", s.id, ".committed")), "the confined coder's commit");
    first.kill("SIGKILL");
    await first.exited;
    expect(originBranches(project.origin)).not.toContain(`feature/story-${s.id}`);

    const second = await cluster.agent(root, server.ws);
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa",
      "the reconciled story in qa",
      60_000,
    );
    expect(second.logged("took back git views a previous run left")).toHaveLength(1);
    expect(git(project.origin, "show", `feature/story-${s.id}:story-${s.id}.txt`)).toContain("done by coder-1");
    expect(second.logged("reconciled: pushed committed work and advanced").map((l) => l.story)).toEqual([s.id]);
  });
});
