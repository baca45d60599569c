import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { claudeSlot, projectToml } from "../support/coders.js";
import { requestText, ScriptedModelServer } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";
import { PLACEHOLDER_KEY } from "../../src/confinement/credential-proxy.js";
import type { Item } from "../../src/state/item.js";

const REAL_KEY = "sk-ant-api03-the-real-key-of-this-node";
const LOGIN = "fake-subscription-login-secret-42";
const OTHER = "feature/story-99_story_other";

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

describe.skipIf(missingSandboxTools().length > 0 && !process.env.CI)("a claude-code coder's shell", () => {
  it("moves no branch but its own (not another story's, not main, not origin/main, on the node or on origin) and sees only a placeholder key", async () => {
    const bash = (command: string) => ({ tool: { name: "Bash", input: { command, description: "step" } } });
    const steps = [
      bash("echo work > work.txt && git add -A && git commit -qm 'own work' && echo committed"),
      bash(
        [
          // Through the run's git view (discarded but for its own branch)…
          `git update-ref refs/heads/${OTHER} HEAD`,
          "git update-ref refs/heads/main HEAD",
          "git update-ref refs/remotes/origin/main HEAD",
          // …and straight at the repository, with commits it already has (read-only to the shell).
          `A=$(sed -n 's/^gitdir: //p' .git); C=$(cd "$A/../.." && pwd)`,
          `env -u GIT_DIR -u GIT_WORK_TREE git update-ref refs/heads/main refs/heads/${OTHER}`,
          `git --git-dir="$C" update-ref refs/heads/${OTHER} refs/heads/main`,
          `git --git-dir="$C" update-ref refs/remotes/origin/main refs/heads/${OTHER}`,
          `git --git-dir="$C" rev-parse refs/heads/${OTHER} > "$C/refs/heads/main"`,
          'echo "repository writes done"',
          'echo "KEY=$ANTHROPIC_API_KEY"',
          'cat "$CLAUDE_CONFIG_DIR/.credentials.json"',
          "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\000' '\\n' | grep -c sk-ant-api03 || true",
        ].join("; "),
      ),
    ];
    model = await new ScriptedModelServer(({ step }) => (step < steps.length ? steps[step]! : { text: "Done." })).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    writeFileSync(join(configDir, ".credentials.json"), JSON.stringify({ note: LOGIN }), { mode: 0o600 });
    project = createProject({ projectToml: projectToml() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    writeFileSync(join(agentRoot, ".huskies", "agents.toml"), claudeSlot({ maxTurns: 6, sandbox: "required", tools: ["Bash"] }));
    // Another story's branch, one commit ahead of main, on the node and on origin.
    git(agentRoot, "checkout", "-q", "-b", OTHER);
    writeFileSync(join(agentRoot, "other.txt"), "other story\n");
    git(agentRoot, "add", "other.txt");
    git(agentRoot, "commit", "-qm", "other story");
    git(agentRoot, "checkout", "-q", "main");
    git(agentRoot, "push", "-q", "origin", OTHER);
    const before = {
      other: git(agentRoot, "rev-parse", OTHER),
      main: git(agentRoot, "rev-parse", "main"),
      originMain: git(agentRoot, "rev-parse", "origin/main"),
      remoteMain: git(project.origin, "rev-parse", "main"),
      remoteOther: git(project.origin, "rev-parse", OTHER),
    };
    await cluster.agent(agentRoot, server.ws, [], { ...model.env(configDir), ANTHROPIC_API_KEY: REAL_KEY });

    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Move refs", stage: "current" });
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa",
      "the story to reach qa",
      90_000,
      250,
    );

    expect(git(agentRoot, "rev-parse", OTHER)).toBe(before.other);
    expect(git(agentRoot, "rev-parse", "main")).toBe(before.main);
    expect(git(agentRoot, "rev-parse", "origin/main")).toBe(before.originMain);
    expect(git(project.origin, "rev-parse", "main")).toBe(before.remoteMain);
    expect(git(project.origin, "rev-parse", OTHER)).toBe(before.remoteOther);
    // Its own branch moved, on the node and on origin.
    expect(git(project.origin, "show", `feature/story-${s.id}:work.txt`)).toBe("work");
    expect(git(agentRoot, "rev-parse", `feature/story-${s.id}`)).toBe(git(project.origin, "rev-parse", `feature/story-${s.id}`));

    const seen = model.requests.map(requestText).join("\n");
    expect(seen).toContain("committed");
    expect(seen).toContain("repository writes done");
    expect(before.other).not.toBe(before.main);
    expect(seen).toContain(`KEY=${PLACEHOLDER_KEY}`);
    expect(seen).not.toContain(REAL_KEY);
    expect(seen).not.toContain(LOGIN);
    // The real key still reached the model API: the node's credential proxy added it.
    expect(model.requests.length).toBeGreaterThan(2);
    for (const r of model.requests) expect(r.headers["x-api-key"]).toBe(REAL_KEY);
  });
});
