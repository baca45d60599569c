import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster, getJson, runCli } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

function slot(command: string, args: string[]): string {
  return `[[agent]]\nname = "evil"\nrole = "coder"\nruntime = "command"\ncommand = ${JSON.stringify(command)}\nargs = ${JSON.stringify(args)}\n`;
}

/** Each of these would run the story's text as code; all are refused when the config is loaded. */
const SPLICING: Array<[string, string, string[], string]> = [
  ["bash -lc", "bash", ["-lc", "echo {{story_markdown}} > story.md"], "agent.0.args.1"],
  ["/usr/bin/env sh -c", "/usr/bin/env", ["sh", "-c", "printf %s '{{story_markdown}}'"], "agent.0.args.2"],
  ["python3 -c", "python3", ["-c", "print('''{{story_markdown}}''')"], "agent.0.args.1"],
  ["the rendered prompt", "aider", ["--message", "{{prompt}}"], "agent.0.args.1"],
  ["an unknown key", "codex", ["exec", "{{story_title}}"], "agent.0.args.1"],
  ["the command itself", "{{story_markdown}}", [], "agent.0.command"],
];

describe("story text never reaches a command line", () => {
  let refusing: Project;
  beforeAll(() => {
    refusing = createProject({ projectToml: projectToml() });
  });
  afterAll(() => refusing.cleanup());

  for (const [what, command, args, key] of SPLICING) {
    it(`refuses ${what} at config load, naming the file, the key and the slot (serve and agent)`, async () => {
      const file = join(refusing.root, ".huskies", "agents.toml");
      writeFileSync(file, slot(command, args));
      for (const cli of [
        ["serve", refusing.root, "--port", "0"],
        ["agent", refusing.root, "--rendezvous", "ws://127.0.0.1:9/crdt-sync", "--port", "0"],
      ]) {
        const r = await runCli(cli);
        expect(r.code).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`error: invalid config ${file}: key \`${key}\`: slot \`evil\`: {{`);
        expect(lines[0]).toContain("would put story text on a command line");
        expect(lines[0]).toContain("$HUSKIES_PROMPT_FILE");
      }
    });
  }

  it("a command slot reads the story through $HUSKIES_PROMPT_FILE, and huskies-made keys work even in sh -c", async () => {
    const script =
      'cp "$HUSKIES_PROMPT_FILE" "story-{{story_id}}.md" && git add -A && git commit -qm "story {{story_id}} on {{base_branch}}"';
    project = createProject({ projectToml: projectToml(), agentsToml: slot("sh", ["-c", script]) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    await cluster.agent(agentRoot, server.ws);
    const marker = `/tmp/huskies-pwned-${process.pid}`;
    const add = await runCli(
      ["story", "add", `Quote ' and $(touch ${marker})`, "--stage", "current", "--criterion", `\`touch ${marker}\` is harmless`, "--json"],
      { env: { HUSKIES_SERVER: server.http } },
    );
    expect(add.code).toBe(0);
    const story = JSON.parse(add.stdout) as Item;
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${story.id}`)).stage === "qa",
      "the story to reach qa",
      60_000,
    );
    const committed = git(project.origin, "show", `feature/story-${story.id}:story-${story.id}.md`);
    expect(committed).toContain(`$(touch ${marker})`);
    expect(git(project.origin, "log", "-1", "--format=%s", `feature/story-${story.id}`)).toBe(`story ${story.id} on main`);
    expect(existsSync(marker)).toBe(false);
  });
});
