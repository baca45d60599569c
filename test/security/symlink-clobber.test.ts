import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { claudeSlot, commandSlots, projectToml } from "../support/coders.js";
import { ScriptedModelServer } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";
import type { Item } from "../../src/state/item.js";

const VICTIM_TEXT = "the node user's file, which no run may overwrite\n";

/**
 * Plants a link to `victim` everywhere a run can reach that huskies writes or reads for a run:
 * the old exclude file in the worktree's git dir, its index and HEAD, the run's git view (index,
 * excludes, HEAD, its branch), the prompt file and the checkout's `.git`; then leaves no commit,
 * so the attempt is retried and huskies prepares the next run over whatever is left.
 */
function planter(victim: string): string {
  const targets = [
    '"$A/huskies-sandbox-exclude"',
    '"$A/index"',
    '"$A/HEAD"',
    '"$GIT_DIR/index"',
    '"$GIT_DIR/info/exclude"',
    '"$GIT_DIR/huskies-sandbox-exclude"',
    '"$GIT_DIR/HEAD"',
    '"$GIT_DIR/refs/heads/feature/story-$HUSKIES_STORY_ID"',
    '"$HUSKIES_PROMPT_FILE"',
    ".git",
  ];
  return `A=$(sed -n 's/^gitdir: //p' .git); mkdir -p "$GIT_DIR/info"; for p in ${targets.join(" ")}; do ln -sfn ${JSON.stringify(victim)} "$p" 2>/dev/null; done; echo planted`;
}

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

async function runUntilBlocked(
  agentsToml: (victim: string) => string,
  env: Record<string, string> = {},
): Promise<{ victim: string; worktree: string }> {
  project = createProject({ projectToml: projectToml({ max_retries: 2 }) });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const agentRoot = project.clone("agent");
  const victim = join(agentRoot, "victim.txt");
  writeFileSync(victim, VICTIM_TEXT);
  writeFileSync(join(agentRoot, ".huskies", "agents.toml"), agentsToml(victim));
  await cluster.agent(agentRoot, server.ws, [], env);
  const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Plant links", stage: "current" });
  await waitFor(
    async () => !!(await getJson<Item>(`${server.http}/api/stories/${s.id}`)).blocked,
    "the story to be blocked after its retries",
    120_000,
    250,
  );
  return { victim, worktree: join(agentRoot, ".huskies", "worktrees", s.id) };
}

function expectUntouched(victim: string, worktree: string): void {
  expect(readFileSync(victim, "utf8")).toBe(VICTIM_TEXT);
  // The checkout still leads to its own git dir, whose files are plain files huskies wrote.
  expect(lstatSync(join(worktree, ".git")).isFile()).toBe(true);
  const admin = git(worktree, "rev-parse", "--absolute-git-dir");
  for (const f of ["HEAD", "index"]) expect(lstatSync(join(admin, f)).isSymbolicLink(), f).toBe(false);
  expect(git(worktree, "status", "--porcelain")).toBe("");
}

describe.skipIf(missingSandboxTools().length > 0 && !process.env.CI)("the symlink clobber", () => {
  it("a command coder's planted links leave their target untouched across retries", async () => {
    const { victim, worktree } = await runUntilBlocked((v) => commandSlots(1, `${planter(v)}; exit 1`));
    expectUntouched(victim, worktree);
  });

  it("a claude-code coder's planted links leave their target untouched across retries", async () => {
    model = await new ScriptedModelServer(({ step, prompt }) => {
      const victim = /VICTIM=(\S+)/.exec(prompt)?.[1] ?? "/nonexistent";
      return step === 0 ? { tool: { name: "Bash", input: { command: planter(victim), description: "plant" } } } : { text: "Done." };
    }).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    const { victim, worktree } = await runUntilBlocked(
      (v) => claudeSlot({ maxTurns: 4, sandbox: "required", tools: ["Bash"] }) + `prompt = "VICTIM=${v} {{story_id}}"\n`,
      model.env(configDir),
    );
    expectUntouched(victim, worktree);
  });
});
