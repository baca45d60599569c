import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, postJson } from "../support/cluster.js";
import { claudeSlot, projectToml } from "../support/coders.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { coderRuns, landedOrder, MERGEMASTER_ONLY, slotsOf, stageOf } from "../support/landing-kit.js";
import { ScriptedModelServer } from "../support/model-server.js";
import { landingModel, SHARED } from "../../bench/landing-model.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await cluster.stopAll();
  await model?.close();
  model = undefined;
  project?.cleanup();
  project = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("a conflict round resumes the session that wrote the code (issue 29.1, real claude)", () => {
  it("the model sees its own earlier turns when asked to merge the new base; both lines land", async () => {
    // The benchmark's model: every story inserts its line at the same place, a round merges the
    // base keeping both sides and records whether the request carried the story's own turns.
    const { script, stats } = landingModel({ latencyMs: 0, overlapping: () => true });
    model = await new ScriptedModelServer(script).start();
    const env = () => {
      const dir = mkdtempSync(join(tmpdir(), "huskies-claude-"));
      dirs.push(dir);
      return model!.env(dir);
    };
    project = createProject({
      projectToml: projectToml({ default_qa: "server", max_coders: 1 }),
      agentsToml: claudeSlot({ maxTurns: 12, tools: ["Bash", "Read", "Write", "Edit"] }),
      files: { [SHARED]: "# list\n" },
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const a = await cluster.agent(project.clone("a"), server.ws, ["--label", "coder-a"], env());
    const b = await cluster.agent(project.clone("b"), server.ws, ["--label", "coder-b"], env());
    const s1 = await postJson<Item>(`${server.http}/api/stories`, { name: "First line", stage: "current" });
    const s2 = await postJson<Item>(`${server.http}/api/stories`, { name: "Second line", stage: "current" });
    // Both coded from the same base before a mergemaster exists.
    for (const s of [s1, s2]) expect((await stageOf(server, s.id, "merge", 180_000)).blocked).toBeNull();
    await cluster.agent(slotsOf(project.clone("m"), MERGEMASTER_ONLY), server.ws, ["--label", "merger"]);
    for (const s of [s1, s2]) expect((await stageOf(server, s.id, "done", 180_000)).blocked).toBeNull();

    const second = landedOrder(project)[1]!;
    const home = coderRuns(a, second).length ? a : b;
    const runs = coderRuns(home, second);
    expect(runs.map((r) => r.conflictRound)).toEqual([undefined, 1]);
    // The round resumed the session of the first run (logged by the node), and the model saw that
    // session's earlier turns in the request: the change it made itself.
    expect(runs[1]!.resume).toMatch(/^[0-9a-f-]{36}$/);
    expect(stats.rounds).toBe(1);
    expect(stats.roundsInOwnSession).toBe(1);
    expect(stats.roundsWithoutHistory).toEqual([]);
    expect(stats.mergemasterRuns).toBe(0);

    const shared = git(project.origin, "show", `main:${SHARED}`);
    expect(shared.split("\n").sort()).toEqual(["# list", `line ${s1.id}`, `line ${s2.id}`].sort());
    expect(shared).not.toMatch(/^(<<<<<<<|=======|>>>>>>>)/m);
  }, 420_000);
});
