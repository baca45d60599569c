import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, originBranches, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

describe("three build agents drain current", () => {
  it("30 stories end in qa with their branches on origin, each run exactly once", async () => {
    project = createProject({ projectToml: projectToml({ max_coders: 2 }), agentsToml: commandSlots(2) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agents = await Promise.all([1, 2, 3].map((i) => cluster.agent(project!.clone(`agent${i}`), server.ws)));
    await waitFor(
      async () => (await getJson<{ nodes: unknown[] }>(`${server.http}/api/pipeline`)).nodes.length === 4,
      "all agents to heartbeat",
    );

    const ids: string[] = [];
    for (let i = 0; i < 30; i++)
      ids.push((await postJson<Item>(`${server.http}/api/stories`, { name: `Story ${i}`, stage: "current" })).id);

    await waitFor(
      async () => {
        const items = await getJson<Item[]>(`${server.http}/api/stories`);
        return items.filter((i) => i.stage === "qa").length === 30;
      },
      "all 30 stories to reach qa",
      120_000,
      250,
    );

    const branches = originBranches(project.origin);
    for (const id of ids) expect(branches).toContain(`feature/story-${id}`);

    const invocations = agents.flatMap((a) => a.logged("agent invocation").map((l) => ({ story: String(l.story), node: String(l.node) })));
    const perStory = new Map<string, number>();
    for (const inv of invocations) perStory.set(inv.story, (perStory.get(inv.story) ?? 0) + 1);
    expect([...perStory.keys()].sort()).toEqual([...ids].sort());
    expect([...perStory.values()].every((n) => n === 1)).toBe(true);
    // The work was shared.
    expect(new Set(invocations.map((i) => i.node)).size).toBeGreaterThan(1);
    const items = await getJson<Item[]>(`${server.http}/api/stories`);
    for (const item of items) expect(item).toMatchObject({ stage: "qa", claim: null, branch: `feature/story-${item.id}`, retries: 0 });
  });
});
