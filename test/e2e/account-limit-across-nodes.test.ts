import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
import { parseProm, sampleValue } from "../support/prometheus.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { rateLimitHeaders, ScriptedModelServer, type Script } from "../support/model-server.js";
import { CLI_BIN, ScriptedResponsesServer, type VendorScript } from "../support/vendor-servers.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";
import type { PipelineView } from "../../src/server/operator-actions.js";

/**
 * Issue 28's acceptance, through real processes: two build agents whose slots share account A
 * (Claude Code, the real `claude` against the scripted Messages API). Node "alpha" has one slot on
 * A; node "beta" has one slot with `accounts = ["A", "B"]`, B being a Codex account (the real
 * `codex` against the scripted Responses API). The first request on A is rejected by the plan's
 * usage limit with a reset 25 s later. Then:
 * - A is paused on both nodes within 2 s of that 429 (each node logs when the pause is in force on
 *   it; the figure is printed);
 * - the story goes to beta's slot on account B (codex) with no retry spent;
 * - a story filed while A is paused waits (alpha's only account is paused, beta is busy) and is
 *   taken on A by alpha at the reset, not before (the figure is printed).
 */

const ACCOUNT_PAUSE_BOUND_MS = 2000;
/** Alpha starts story two this soon after the reset (its timer fires at the reset; a claim takes ms). */
const RESUME_BOUND_MS = 15_000;
/** Long enough for the claim to travel to beta and codex to start on a loaded machine (seconds). */
const RESET_AFTER_SECS = 25;

const cluster = new Cluster();
let project: Project | undefined;
let claude: ScriptedModelServer | undefined;
let codex: ScriptedResponsesServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await cluster.stopAll();
  await claude?.close();
  await codex?.close();
  project?.cleanup();
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const ACCOUNTS = `[[account]]
name = "A"
runtime = "claude-code"
env = ["CLAUDE_CODE_OAUTH_TOKEN"]

[[account]]
name = "B"
runtime = "codex"
env = ["OPENAI_API_KEY"]
`;

function slot(name: string, accounts: string[]): string {
  return `[[agent]]
name = "${name}"
role = "coder"
runtime = "claude-code"
model = "claude-sonnet-4-5"
max_turns = 6
allowed_tools = ["Bash", "Write", "Edit", "Read"]
accounts = ${JSON.stringify(accounts)}
`;
}

const item = (server: NodeProc, id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);
const nodeEntry = async (server: NodeProc, id: string) => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === id);
/** When a node logged that an account's pause is in force on it (its own clock, epoch ms). */
const pauseSeenAt = (node: NodeProc, account: string) =>
  node.logs.find((l) => l.msg === "account pause in force here" && l.account === account)?.time as number | undefined;

describe("an account shared by two nodes", () => {
  it("the first 429 pauses the account on both nodes within 2 s; the story moves to another vendor's account with no retry spent; the account resumes at its reset", async () => {
    // Account A (claude): every request is over the plan's limit until the reset, then it works.
    let first429At = 0;
    let resetSecs = 0;
    const claudeRequests: Array<{ at: number; prompt: string }> = [];
    const claudeScript: Script = ({ step, prompt }) => {
      const now = Date.now();
      claudeRequests.push({ at: now, prompt });
      if (!first429At) {
        first429At = now;
        resetSecs = Math.ceil(now / 1000) + RESET_AFTER_SECS;
      }
      if (now < resetSecs * 1000)
        return {
          error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: rateLimitHeaders("rejected", resetSecs) },
        };
      return step === 0
        ? { tool: { name: "Bash", input: { command: "echo two > two.txt && git add two.txt && git commit -qm 'Add two'" } } }
        : { text: "Done on A." };
    };
    // Account B (codex): story one's first answer is held until the test lets it go, so beta's slot
    // stays busy while A is paused.
    let letCodexGo: () => void = () => undefined;
    const codexHeld = new Promise<void>((resolve) => (letCodexGo = resolve));
    let codexFirstAt = 0;
    const codexScript: VendorScript = async ({ step }) => {
      if (step === 0) {
        codexFirstAt ||= Date.now();
        await codexHeld;
        return { shell: "echo one > one.txt && git add one.txt && git commit -qm 'Add one'" };
      }
      return { text: "Committed one.txt." };
    };
    claude = await new ScriptedModelServer(claudeScript).start();
    codex = await new ScriptedResponsesServer(codexScript).start();

    project = createProject({ projectToml: projectToml({ limit_backoff_secs: 600 }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const { ANTHROPIC_API_KEY: _apiKey, ...claudeEnv } = claude.env(tempDir("huskies-claude-config-"));
    const env = {
      ...claudeEnv,
      ANTHROPIC_API_KEY: undefined,
      CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-scripted",
      ...codex.env(tempDir("huskies-codex-home-")),
      PATH: `${CLI_BIN}:${process.env.PATH ?? ""}`,
    };
    const alphaRoot = project.clone("alpha");
    writeFileSync(join(alphaRoot, ".huskies", "agents.toml"), `${ACCOUNTS}\n${slot("alpha-1", ["A"])}`);
    const betaRoot = project.clone("beta");
    writeFileSync(join(betaRoot, ".huskies", "agents.toml"), `${ACCOUNTS}\n${slot("beta-1", ["A", "B"])}`);
    const alpha = await cluster.agent(alphaRoot, server.ws, ["--label", "alpha"], env);
    const beta = await cluster.agent(betaRoot, server.ws, ["--label", "beta"], env);
    await waitFor(
      async () =>
        (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).filter((n) => n.id === alpha.nodeId || n.id === beta.nodeId).length ===
          2 || undefined,
      "both agents in the document",
    );

    const one = await postJson<Item>(`${server.http}/api/stories`, { name: "Story one", stage: "current" });

    // The first 429 (on whichever node took the story with A) pauses A on both.
    await waitFor(() => (pauseSeenAt(alpha, "A") && pauseSeenAt(beta, "A")) || undefined, "account A paused on both nodes", 60_000, 50);
    const seen = { alpha: pauseSeenAt(alpha, "A")! - first429At, beta: pauseSeenAt(beta, "A")! - first429At };
    const pauseOnBothMs = Math.max(seen.alpha, seen.beta);
    console.log(JSON.stringify({ figure: "account pause on both nodes after the first 429", ms: pauseOnBothMs, ...seen }));
    expect(pauseOnBothMs).toBeLessThan(ACCOUNT_PAUSE_BOUND_MS);
    for (const node of [alpha, beta]) {
      const health = (await node.health()) as unknown as {
        accounts: { accounts: Array<{ name: string; paused: { until: number } | null }> };
      };
      expect(health.accounts.accounts.find((a) => a.name === "A")?.paused).toMatchObject({ until: resetSecs * 1000 });
      // /metrics and `huskies status --json` on each node: A paused with the time to its reset, B working.
      const samples = parseProm(await (await fetch(`${node.http}/metrics`)).text()).samples;
      expect(sampleValue(samples, "huskies_account_paused", { account: "A" })).toBe(1);
      expect(sampleValue(samples, "huskies_account_paused", { account: "B" })).toBe(0);
      const resetIn = sampleValue(samples, "huskies_account_reset_seconds", { account: "A" });
      expect(resetIn).toBeGreaterThan(0);
      expect(resetIn).toBeLessThanOrEqual(RESET_AFTER_SECS + 1);
      const status = await runCli(["status", "--json"], { env: { HUSKIES_SERVER: node.http } });
      const view = JSON.parse(status.stdout) as PipelineView;
      expect(view.accounts?.accounts.find((a) => a.name === "A")).toMatchObject({ paused: { until: resetSecs * 1000 } });
      expect(view.accounts?.accounts.find((a) => a.name === "A")?.resetInSecs).toBeGreaterThan(0);
      expect(view.accounts?.accounts.find((a) => a.name === "B")).toMatchObject({ paused: null });
    }
    // Alpha's only slot is on A: the node shows the account's pause; beta falls back to B and works.
    const alphaPaused = await waitFor(async () => (await nodeEntry(server, alpha.nodeId))?.paused ?? undefined, "alpha shown paused");
    expect(alphaPaused).toMatchObject({ reason: expect.stringMatching(/^account A: .*limit/), until: resetSecs * 1000 });

    // The story goes to beta's slot on account B (codex), its retries untouched.
    await waitFor(() => codexFirstAt || undefined, "story one started with codex on account B", 60_000, 100);
    expect(codexFirstAt, "story one reached account B before A's reset").toBeLessThan(resetSecs * 1000);
    const onB = await item(server, one.id);
    expect(onB).toMatchObject({ retries: 0, blocked: null, claim: { node: beta.nodeId } });
    expect((await nodeEntry(server, beta.nodeId))?.paused ?? null).toBeNull();

    // A story filed while A is paused waits for the reset: alpha's account is paused, beta is busy.
    const two = await postJson<Item>(`${server.http}/api/stories`, { name: "Story two", stage: "current" });
    const startedOnA = await waitFor(
      () => claudeRequests.find((r) => r.prompt.includes(two.id)),
      "story two started on account A after the reset",
      120_000,
      100,
    );
    const invokedAt = alpha.logs.find((l) => l.msg === "agent invocation" && l.story === two.id)?.time as number;
    const resumed = { invokedMs: invokedAt - resetSecs * 1000, firstRequestMs: startedOnA.at - resetSecs * 1000 };
    console.log(
      JSON.stringify({ figure: "account A at work again after its reset (alpha starts claude; claude's first request)", ...resumed }),
    );
    expect(resumed.invokedMs).toBeGreaterThanOrEqual(0);
    // The node wakes at the reset by its own timer, not at some later scan (generous: a loaded box).
    expect(resumed.invokedMs).toBeLessThan(RESUME_BOUND_MS);
    // Nothing asked A for work between the first run's stop and the reset.
    const firstRun = claudeRequests.filter((r) => r.prompt.includes(one.id));
    expect(claudeRequests.filter((r) => r.at < resetSecs * 1000)).toEqual(firstRun);
    letCodexGo();

    const inQa = (id: string) => async () => {
      const i = await item(server, id);
      return i.stage === "qa" ? i : undefined;
    };
    const doneOne = await waitFor(inQa(one.id), "story one finished on B", 120_000, 250);
    expect(doneOne).toMatchObject({
      retries: 0,
      lastRun: { node: beta.nodeId, account: "B", runtime: "codex", outcome: "done" },
    });
    const doneTwo = await waitFor(inQa(two.id), "story two finished on A", 120_000, 250);
    expect(doneTwo).toMatchObject({ retries: 0, lastRun: { node: alpha.nodeId, account: "A", outcome: "done" } });
    expect((await nodeEntry(server, alpha.nodeId))?.paused ?? null).toBeNull();
  });
});
