import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, originBranches, type Project } from "../support/git-fixture.js";
import { projectToml, claudeSlot } from "../support/coders.js";
import { firstPrompt, ScriptedModelServer, type Script } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/** Writes hello.txt and commits it through the Bash tool, then says it is done. */
const commitHello: Script = ({ step }) =>
  step === 0
    ? {
        tool: {
          name: "Bash",
          input: {
            command: "echo 'hello from claude' > hello.txt && git add hello.txt && git commit -qm 'Add hello'",
            description: "Write and commit hello.txt",
          },
        },
      }
    : { text: "Done: hello.txt is committed." };

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
let configDir: string | undefined;
afterEach(async () => {
  await cluster.stopAll();
  await model?.close();
  project?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

async function startWith(script: Script, toml: string) {
  model = await new ScriptedModelServer(script).start();
  configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
  project = createProject({ projectToml: toml, agentsToml: claudeSlot() });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const agentRoot = project.clone("agent");
  await cluster.agent(agentRoot, server.ws, [], model.env(configDir));
  return { server, agentRoot };
}

describe("the real claude binary against a scripted model", () => {
  it("commits in the worktree, passes the gates, pushes, advances and records turns and cost", async () => {
    const { server } = await startWith(commitHello, projectToml({}, ["test -f hello.txt"]));
    const s = await postJson<Item>(`${server.http}/api/stories`, {
      name: "Say hello",
      stage: "current",
      body: "As a visitor I want a greeting.",
      criteria: ["hello.txt greets the reader"],
    });
    const done = await waitFor(
      async () => {
        const i = await getJson<Item>(`${server.http}/api/stories/${s.id}`);
        return i.stage === "qa" ? i : undefined;
      },
      "the story to reach qa",
      90_000,
      250,
    );
    expect(originBranches(project!.origin)).toContain(`feature/story-${s.id}`);
    expect(git(project!.origin, "show", `feature/story-${s.id}:hello.txt`)).toBe("hello from claude");
    expect(done.lastRun).toMatchObject({ exit: 0, turns: expect.any(Number) });
    expect(done.lastRun!.turns).toBeGreaterThanOrEqual(2);
    expect(done.lastRun!.costUsd).toBeGreaterThan(0);
    const prompt = firstPrompt(model!.requests[0]!);
    expect(prompt).toContain("- [ ] hello.txt greets the reader");
    expect(prompt).toContain(`feature`);
    expect(model!.requests.some((r) => (r.body.tools ?? []).some((t) => t.name === "Bash"))).toBe(true);

    const log = await (await fetch(`${server.http}/api/stories/${s.id}/log`)).text();
    expect(
      log
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .some((e) => e.kind === "event" && e.event.type === "result"),
    ).toBe(true);
  });

  it("feeds failing gate output back, then blocks after max_retries and pushes nothing", async () => {
    const { server } = await startWith(commitHello, projectToml({ max_retries: 2 }, ["test -f ok.txt"]));
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Never passes", stage: "current" });
    const blocked = await waitFor(
      async () => {
        const i = await getJson<Item>(`${server.http}/api/stories/${s.id}`);
        return i.blocked ? i : undefined;
      },
      "the story to be blocked",
      120_000,
      250,
    );
    expect(blocked).toMatchObject({ stage: "current", retries: 2, claim: null });
    expect(blocked.blocked).toContain("gate `test -f ok.txt` failed");
    const prompts = model!.requests.map(firstPrompt);
    expect(prompts.some((p) => p.includes("The previous attempt failed") && p.includes("gate `test -f ok.txt` failed"))).toBe(true);
    expect(originBranches(project!.origin)).not.toContain(`feature/story-${s.id}`);
  });
});
