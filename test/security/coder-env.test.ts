import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { ScriptedModelServer } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/** The node's own secrets and an unrelated one; a slot-named variable; all set on the agent node. */
const NODE_ENV = {
  HUSKIES_TOKEN: "huskies-token-must-not-leak",
  HUSKIES_ADMIN_TOKEN: "huskies-admin-token-must-not-leak",
  UNRELATED_SECRET: "unrelated-secret-must-not-leak",
  MY_TOOL_TOKEN: "slot-named-variable-passes",
};
const LEAKS = ["HUSKIES_TOKEN", "HUSKIES_ADMIN_TOKEN", "UNRELATED_SECRET"];

/** Every gate dumps its environment into the worktree (left uncommitted, read from the agent's disk). */
const GATES = ["env > gate-env.txt"];

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
let configDir: string | undefined;
afterEach(async () => {
  await cluster.stopAll();
  await model?.close();
  project?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  project = model = configDir = undefined;
});

function envOf(text: string): Map<string, string> {
  return new Map(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** A project whose agent (in its own clone, with `agentsToml`) runs with NODE_ENV and `env`. */
async function runOneStory(
  agentsToml: string,
  env: Record<string, string> = {},
): Promise<{ story: Item; worktree: string; server: NodeProc }> {
  project = createProject({ projectToml: projectToml({}, GATES) });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const agentRoot = project.clone("agent");
  writeFileSync(join(agentRoot, ".huskies", "agents.toml"), agentsToml);
  await cluster.agent(agentRoot, server.ws, [], { ...NODE_ENV, ...env });
  const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Dump the environment", stage: "current" });
  await waitFor(
    async () => (await getJson<Item>(`${server.http}/api/stories/${story.id}`)).stage === "qa",
    "the story to reach qa",
    90_000,
    250,
  );
  return { story, worktree: join(agentRoot, ".huskies", "worktrees", story.id), server };
}

function expectNoLeaks(env: Map<string, string>, text: string): void {
  for (const name of LEAKS) expect(env.has(name), name).toBe(false);
  for (const value of Object.values(NODE_ENV).filter((v) => v.includes("must-not-leak"))) expect(text).not.toContain(value);
}

describe("coders and gates get an allow-listed environment", () => {
  it("a command coder gets its slot's env names and huskies' story variables; a gate gets CI=true; neither gets a token", async () => {
    const agents =
      `[[agent]]\nname = "dumper"\nrole = "coder"\nruntime = "command"\ncommand = "sh"\nenv = ["MY_TOOL_TOKEN"]\n` +
      `args = ["-c", "env > coder-env.txt && git add coder-env.txt && git commit -qm env"]\n`;
    const { story, worktree } = await runOneStory(agents, { ANTHROPIC_API_KEY: "sk-ant-for-claude-only" });
    const coderText = git(project!.origin, "show", `feature/story-${story.id}:coder-env.txt`);
    const coder = envOf(coderText);
    expectNoLeaks(coder, coderText);
    expect(coder.has("ANTHROPIC_API_KEY")).toBe(false);
    expect(coder.get("MY_TOOL_TOKEN")).toBe(NODE_ENV.MY_TOOL_TOKEN);
    expect(coder.get("HUSKIES_STORY_ID")).toBe(story.id);
    expect(coder.get("HUSKIES_SLOT")).toBe("dumper");
    expect(coder.get("HUSKIES_PROMPT_FILE")).toMatch(/\.prompt\.md$/);
    expect(coder.has("PATH") && coder.has("HOME")).toBe(true);

    const gateText = readFileSync(join(worktree, "gate-env.txt"), "utf8");
    const gate = envOf(gateText);
    expectNoLeaks(gate, gateText);
    expect(gate.get("CI")).toBe("true");
    for (const name of ["ANTHROPIC_API_KEY", "MY_TOOL_TOKEN", "HUSKIES_STORY_ID"]) expect(gate.has(name), name).toBe(false);
  });

  it("ANTHROPIC_API_KEY reaches claude-code (and the model), never huskies' tokens", async () => {
    model = await new ScriptedModelServer(({ step }) =>
      step === 0
        ? {
            tool: {
              name: "Bash",
              input: { command: "env > claude-env.txt && git add claude-env.txt && git commit -qm env", description: "dump env" },
            },
          }
        : { text: "Done." },
    ).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    const agents = `[[agent]]\nname = "claude-1"\nrole = "coder"\nruntime = "claude-code"\nmax_turns = 4\nallowed_tools = ["Bash"]\n`;
    const { story, worktree } = await runOneStory(agents, model.env(configDir));
    expect(model.requests[0]!.headers["x-api-key"]).toBe(model.env(configDir).ANTHROPIC_API_KEY);
    const text = git(project!.origin, "show", `feature/story-${story.id}:claude-env.txt`);
    const env = envOf(text);
    expectNoLeaks(env, text);
    expect(env.has("MY_TOOL_TOKEN")).toBe(false);
    expect(env.get("HUSKIES_STORY_ID")).toBe(story.id);
    const gateText = readFileSync(join(worktree, "gate-env.txt"), "utf8");
    expectNoLeaks(envOf(gateText), gateText);
    expect(gateText).not.toContain(model.env(configDir).ANTHROPIC_API_KEY);
  });

  it("a slot cannot name huskies' own variables in `env` (refused at config load)", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: `[[agent]]\nname = "greedy"\nenv = ["HUSKIES_ADMIN_TOKEN"]\n` });
    const r = await runCli(["serve", project.root, "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: invalid config ${join(project.root, ".huskies", "agents.toml")}: key \`agent.0.env.0\`: huskies' own variables are never passed to agents`,
    );
  });
});
