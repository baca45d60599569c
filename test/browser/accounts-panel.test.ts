import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { parseProm, sampleValue } from "../support/prometheus.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { DESKTOP, launchChromium, overflowsSideways, PHONE, screenshot } from "../support/browser.js";
import { rateLimitHeaders, ScriptedModelServer } from "../support/model-server.js";
import { CLI_BIN, ScriptedResponsesServer } from "../support/vendor-servers.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";
import type { AccountsView } from "../../src/state/accounts-view.js";
import type { PipelineView } from "../../src/server/operator-actions.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

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

const AGENTS = `[[account]]
name = "claude-team"
runtime = "claude-code"
env = ["CLAUDE_CODE_OAUTH_TOKEN"]

[[account]]
name = "codex-team"
runtime = "codex"
env = ["OPENAI_API_KEY"]

[[agent]]
name = "coder-1"
role = "coder"
runtime = "claude-code"
model = "claude-sonnet-4-5"
max_turns = 6
allowed_tools = ["Bash", "Write", "Edit", "Read"]
accounts = ["claude-team", "codex-team"]
`;

/** Raise the project's daily budget in a node's own project.toml (each node reads its own; the watcher reloads it). */
function raiseCap(root: string): void {
  const file = join(root, ".huskies", "project.toml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^daily_budget_usd = .*$/m, "daily_budget_usd = 100"));
}

/**
 * Issue 28, as a person sees it on the board, through real processes: the claude account hits
 * its plan's limit (the real `claude`, a 429 with a reset an hour away) and is paused; the slot
 * falls back to the codex account (the real `codex`), whose run spends exactly the project's
 * daily budget ($0.25: 200k input tokens at codex's list price). The board's accounts panel then
 * shows each account's state and time to reset, today's spend per account and runtime, and why no
 * story starts; a story filed now is not claimed (its card says why) until the budget is raised.
 */
describe("the board's accounts panel", () => {
  it("shows each account's state, time to reset, spend today per account and runtime, and the daily cap that holds new stories", async () => {
    const resetSecs = Math.floor(Date.now() / 1000) + 3600;
    const claude = await new ScriptedModelServer(() => ({
      error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: rateLimitHeaders("rejected", resetSecs) },
    })).start();
    servers.push(claude);
    const codex = await new ScriptedResponsesServer(({ step }) =>
      step === 0
        ? { shell: "echo one > one.txt && git add one.txt && git commit -qm 'Add one'", usage: { input: 200_000, output: 0 } }
        : { text: "Committed.", usage: { input: 0, output: 0 } },
    ).start();
    servers.push(codex);
    project = createProject({ projectToml: projectToml({ daily_budget_usd: 0.25 }), agentsToml: AGENTS });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const { ANTHROPIC_API_KEY: _apiKey, ...claudeEnv } = claude.env(tempDir("huskies-claude-config-"));
    const { CODEX_HOME: _home, ...codexEnv } = codex.env("");
    const agentRoot = project.clone("agent");
    const agent = await cluster.agent(agentRoot, server.ws, ["--label", "builder"], {
      ...claudeEnv,
      ANTHROPIC_API_KEY: undefined,
      CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-scripted",
      ...codexEnv,
      PATH: `${CLI_BIN}:${process.env.PATH ?? ""}`,
    });
    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();

    const one = await postJson<Item>(`${server.http}/api/stories`, { name: "Story one", stage: "current" });
    const item = (id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);
    const done = await waitFor(
      async () => {
        const i = await item(one.id);
        return i.stage === "qa" ? i : undefined;
      },
      "story one done with the codex account",
      120_000,
      250,
    );
    expect(done).toMatchObject({ retries: 0, lastRun: { account: "codex-team", runtime: "codex", costUsd: 0.25 } });
    const view = await waitFor(async () => {
      const v = await getJson<AccountsView>(`${server.http}/api/accounts`);
      return v.capReached ? v : undefined;
    }, "the project's cap reached in the server's view");
    expect(view).toMatchObject({ spentTodayUsd: 0.25, dailyBudgetUsd: 0.25, byRuntime: { codex: 0.25 } });
    // The same spend today in /metrics and `huskies status --json`: the project, per account, per runtime.
    const samples = parseProm(await (await fetch(`${server.http}/metrics`)).text()).samples;
    expect(sampleValue(samples, "huskies_spend_today_usd", { scope: "project", name: "all" })).toBe(0.25);
    expect(sampleValue(samples, "huskies_spend_today_usd", { scope: "account", name: "codex-team" })).toBe(0.25);
    expect(sampleValue(samples, "huskies_spend_today_usd", { scope: "runtime", name: "codex" })).toBe(0.25);
    expect(sampleValue(samples, "huskies_daily_budget_usd", { scope: "project", name: "all" })).toBe(0.25);
    const status = JSON.parse((await runCli(["status", "--json"], { env: { HUSKIES_SERVER: server.http } })).stdout) as PipelineView;
    expect(status.accounts).toMatchObject({ spentTodayUsd: 0.25, byRuntime: { codex: 0.25 } });
    expect(status.accounts?.accounts.find((a) => a.name === "codex-team")).toMatchObject({ spentTodayUsd: 0.25 });
    const claudeCalls = claude.requests.length;

    // The panel: the cap's reason, each account's state and time to reset, spend per account and runtime.
    const panel = page.getByRole("region", { name: "accounts" });
    await panel
      .getByRole("alert")
      .filter({ hasText: /^No new stories: daily budget of the project reached \(\$0\.25 of \$0\.25 today\) · resumes in \d+/ })
      .waitFor();
    expect(await panel.getByTestId("spend-today").textContent()).toMatch(/^spent today \$0\.25 of \$0\.25 \(\d{4}-\d\d-\d\d UTC\)$/);
    const claudeRow = panel.getByRole("listitem", { name: "account claude-team" });
    await claudeRow.filter({ hasText: /paused/ }).waitFor();
    const claudeText = (await claudeRow.textContent())!;
    for (const part of ["claude-team", "claude-code", "paused", "limit", "$0.00 today"]) expect(claudeText).toContain(part);
    expect(claudeText).toMatch(/ · resets in (59|60)m/);
    const codexText = (await panel.getByRole("listitem", { name: "account codex-team" }).textContent())!;
    for (const part of ["codex-team", "codex", "ok", "$0.25 today"]) expect(codexText).toContain(part);
    expect(codexText).not.toContain("paused");
    expect(await panel.getByTestId("spend-by-runtime").textContent()).toBe("by runtime: codex $0.25");
    // The node says it takes nothing, and a story filed now says why on its card.
    const node = page.getByRole("listitem", { name: "node builder" });
    await node.getByRole("status").filter({ hasText: "paused: daily budget of the project reached" }).waitFor();
    const two = await postJson<Item>(`${server.http}/api/stories`, { name: "Story two", stage: "current" });
    await page
      .locator(`.card[data-id="${two.id}"]`)
      .getByTestId("stuck-hint")
      .filter({ hasText: /every live node with a coder slot is paused \(builder: daily budget of the project reached/ })
      .waitFor();
    await screenshot(page, "accounts-panel-desktop");

    // Not claimed while the cap holds: the node keeps heartbeating (its loop runs) and takes nothing.
    const nodeEntry = async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === agent.nodeId)!;
    for (let beats = 0; beats < 3;) {
      const seen = (await nodeEntry()).lastSeen;
      await waitFor(async () => (await nodeEntry()).lastSeen > seen || undefined, "a heartbeat");
      beats += 1;
    }
    expect(await item(two.id)).toMatchObject({ claim: null, stage: "current", retries: 0 });
    expect(agent.logs.filter((l) => l.msg === "agent invocation" && l.story === two.id)).toHaveLength(0);

    const phone = await browser.newPage({ viewport: PHONE, isMobile: true });
    await phone.goto(server.http);
    await phone.getByRole("region", { name: "accounts" }).getByRole("alert").waitFor();
    expect(await overflowsSideways(phone)).toBe(false);
    await screenshot(phone, "accounts-panel-phone", true);

    // Raising the budget lifts the hold: the node takes story two (on codex: claude is still paused).
    raiseCap(agentRoot);
    raiseCap(project.root);
    const second = await waitFor(
      async () => {
        const i = await item(two.id);
        return i.stage === "qa" ? i : undefined;
      },
      "story two done once the budget is raised",
      120_000,
      250,
    );
    expect(second).toMatchObject({ retries: 0, lastRun: { account: "codex-team" } });
    await panel.getByRole("alert").waitFor({ state: "detached" });
    await panel
      .getByTestId("spend-today")
      .filter({ hasText: /^spent today \$0\.50 of \$100\.00/ })
      .waitFor();
    // Claude's account stayed paused throughout: nothing asked it again.
    expect(claude.requests.length).toBe(claudeCalls);
  });
});
