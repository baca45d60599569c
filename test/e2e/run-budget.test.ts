import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { ScriptedModelServer } from "../support/model-server.js";
import { CLI_BIN, ScriptedResponsesServer } from "../support/vendor-servers.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/**
 * A story whose run passes its `max_budget_usd` is stopped and reported `budget`
 * (`failure.kind = "budget"`, a story failure that spends a retry), through a real node: claude
 * stops itself (`--max-budget-usd`); codex is stopped by huskies from the session's token counts.
 * With `max_retries = 1` the first such failure blocks the story, so nothing runs twice.
 */

const cluster = new Cluster();
let project: Project | undefined;
const servers: Array<{ close(): Promise<void> }> = [];
const dirs: string[] = [];
afterEach(async () => {
  await cluster.stopAll();
  for (const s of servers.splice(0)) await s.close();
  project?.cleanup();
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const item = (server: NodeProc, id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);

async function blockedStory(server: NodeProc, name: string): Promise<Item> {
  const s = await postJson<Item>(`${server.http}/api/stories`, { name, stage: "current" });
  return waitFor(
    async () => {
      const i = await item(server, s.id);
      return i.blocked ? i : undefined;
    },
    `${name} stopped for its budget`,
    120_000,
    250,
  );
}

describe("a run's budget", () => {
  it("claude: a run past max_budget_usd stops and the story fails with kind budget", async () => {
    // Every answer is another shell command (each request costs claude about $0.005 at its list
    // price): only the budget ends the run.
    const model = await new ScriptedModelServer(({ step }) => ({
      tool: { name: "Bash", input: { command: `echo step ${step}`, description: "Work" } },
    })).start();
    servers.push(model);
    project = createProject({
      projectToml: projectToml({ max_retries: 1 }),
      agentsToml: `[[agent]]
name = "claude-1"
runtime = "claude-code"
model = "claude-sonnet-4-5"
max_turns = 40
max_budget_usd = 0.01
allowed_tools = ["Bash"]
`,
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("a"), server.ws, [], model.env(tempDir("huskies-claude-config-")));
    const s = await blockedStory(server, "Spend freely");
    expect(s).toMatchObject({ retries: 1, failure: { kind: "budget" }, lastRun: { outcome: "story_failure" } });
    expect(s.failure!.message).toMatch(/budget/i);
    expect(s.lastRun!.costUsd).toBeGreaterThan(0.01);
    // Far fewer requests than the turn limit: the budget ended it.
    expect(model.requests.length).toBeLessThan(10);
    const shown = (await runCli(["story", "show", s.id], { env: { HUSKIES_SERVER: server.http } })).stdout;
    expect(shown).toMatch(/budget/);
  });

  it("codex: huskies stops the run when the session's tokens pass max_budget_usd", async () => {
    // The first answer reports 2M input tokens (~$2.50 at codex's default price): past $1 at once.
    // Every later answer is held, so the run can only end by huskies' budget stop (else by the
    // inactivity timeout, which would not be `budget`): no race with how fast codex asks again.
    let answered = 0;
    const held = new Promise<never>(() => undefined);
    const vendor = await new ScriptedResponsesServer(async ({ step }) => {
      if (step > 0) return held;
      answered += 1;
      return { shell: `echo spending ${step}`, usage: { input: 2_000_000, output: 1000 } };
    }).start();
    servers.push(vendor);
    project = createProject({
      projectToml: projectToml({ max_retries: 1 }),
      agentsToml: `[[agent]]
name = "codex-1"
runtime = "codex"
path = ${JSON.stringify(join(CLI_BIN, "codex"))}
max_budget_usd = 1
`,
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const { CODEX_HOME: _home, ...env } = vendor.env("");
    await cluster.agent(project.clone("a"), server.ws, [], env);
    const s = await blockedStory(server, "Spend on codex");
    expect(s).toMatchObject({ retries: 1, failure: { kind: "budget" }, lastRun: { outcome: "story_failure" } });
    expect(s.failure!.message).toMatch(/budget exhausted: \$\d+\.\d+ spent, max_budget_usd is \$1/);
    // Stopped while its next request waited: one answer given, and codex asked at least once more.
    expect(answered).toBe(1);
    expect(vendor.requests.length).toBeGreaterThanOrEqual(2);
  });
});
