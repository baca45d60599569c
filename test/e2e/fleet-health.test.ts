import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml, claudeSlot } from "../support/coders.js";
import { rateLimitHeaders, ScriptedModelServer, type Script } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry, PauseState } from "../../src/state/item.js";

/** Commits hello.txt through the Bash tool, then says it is done. */
const COMMIT = {
  tool: {
    name: "Bash",
    input: { command: "echo hello > hello.txt && git add hello.txt && git commit -qm 'Add hello'", description: "Commit hello.txt" },
  },
};

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await cluster.stopAll();
  await model?.close();
  project?.cleanup();
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function configDir(): string {
  const d = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
  dirs.push(d);
  return d;
}

const item = (server: NodeProc, id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);
const nodeEntry = async (server: NodeProc, id: string) => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === id);

describe("fleet health with the real claude binary", () => {
  it("a node whose claude is not logged in pauses itself and spends no retry; a working node finishes the story", async () => {
    model = await new ScriptedModelServer(({ step }) => (step === 0 ? COMMIT : { text: "Done." })).start();
    project = createProject({ projectToml: projectToml({ limit_backoff_secs: 600 }, ["test -f hello.txt"]), agentsToml: claudeSlot() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    // Logged out: no API key, an empty claude config.
    const loggedOut = await cluster.agent(project.clone("logged-out"), server.ws, ["--label", "logged-out"], {
      ...model.env(configDir()),
      ANTHROPIC_API_KEY: undefined,
    });
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Say hello", stage: "current" });

    const paused = await waitFor(
      async () => (await nodeEntry(server, loggedOut.nodeId))?.paused,
      "the logged-out node to pause itself",
      60_000,
    );
    expect(paused.reason).toMatch(/Not logged in/);
    expect(paused.until).toBeGreaterThan(Date.now() + 300_000);
    const afterFailure = await waitFor(async () => {
      const i = await item(server, s.id);
      return i.claim === null ? i : undefined;
    }, "the claim given back");
    expect(afterFailure).toMatchObject({ stage: "current", retries: 0, blocked: null });
    expect(afterFailure.lastRun).toMatchObject({ outcome: "node_failure", error: expect.stringContaining("Not logged in") });
    // The real reason is visible where people look.
    const status = (await runCli(["status"], { env: { HUSKIES_SERVER: server.http } })).stdout;
    expect(status).toContain("last run node_failure: Not logged in · Please run /login");
    expect(status).toMatch(/logged-out .*PAUSED: Not logged in/);

    const working = await cluster.agent(project.clone("working"), server.ws, ["--label", "working"], model.env(configDir()));
    const done = await waitFor(
      async () => {
        const i = await item(server, s.id);
        return i.stage === "qa" ? i : undefined;
      },
      "the working node to finish the story",
      90_000,
      250,
    );
    expect(done).toMatchObject({ retries: 0, lastRun: { node: working.nodeId, outcome: "done" } });
    expect(loggedOut.logged("agent invocation")).toHaveLength(1);
  });

  it("a 429 mid-session pauses the node until the reset, then the same session continues and finishes the story", async () => {
    // After the first tool call the plan is out of quota for 4 s, as the 429's retry-after says.
    let limited = 0;
    let limitedUntil = 0;
    const script: Script = ({ step }) => {
      if (step === 0) return COMMIT;
      if (limitedUntil === 0) limitedUntil = Date.now() + 4000;
      if (Date.now() < limitedUntil) {
        limited += 1;
        return { error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: { "retry-after": "4" } } };
      }
      return { text: "Done: continued after the limit." };
    };
    model = await new ScriptedModelServer(script).start();
    project = createProject({ projectToml: projectToml({}, ["test -f hello.txt"]), agentsToml: claudeSlot() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agent = await cluster.agent(project.clone("a"), server.ws, [], model.env(configDir()));
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Say hello", stage: "current" });

    const paused = await waitFor(
      async () => (await nodeEntry(server, agent.nodeId))?.paused,
      "the node paused at the first 429",
      60_000,
      100,
    );
    expect(paused.reason).toMatch(/rate limited|limit/);
    expect(paused.until).not.toBeNull();
    // The pause is written at the first 429 signal; the claim is given back once the run has stopped.
    const stopped = await waitFor(
      async () => {
        const i = await item(server, s.id);
        return i.lastRun ? i : undefined;
      },
      "the run stopped and the claim given back",
      30_000,
      100,
    );
    expect(stopped).toMatchObject({ retries: 0, blocked: null, lastRun: { outcome: "node_failure", sessionId: expect.any(String) } });

    const done = await waitFor(
      async () => {
        const i = await item(server, s.id);
        return i.stage === "qa" ? i : undefined;
      },
      "the story finished after the reset",
      90_000,
      250,
    );
    expect(done.retries).toBe(0);
    // At most a couple of model calls while limited; the run after the reset is the same session.
    expect(limited).toBeLessThanOrEqual(2);
    const resumed = model.requests.at(-1)!;
    expect(JSON.stringify(resumed.body.messages)).toContain("Add hello");
    expect(done.lastRun!.sessionId).toBe(stopped.lastRun!.sessionId);
    expect(agent.logged("agent invocation").filter((l) => l.resume)).toHaveLength(1);
    expect((await nodeEntry(server, agent.nodeId))!.paused).toBeNull();
  });

  it("a first request rejected by a subscription's usage limit pauses until its reset time, without touching the story", async () => {
    const resetSecs = Math.floor(Date.now() / 1000) + 3600;
    model = await new ScriptedModelServer(() => ({
      error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: rateLimitHeaders("rejected", resetSecs) },
    })).start();
    project = createProject({ projectToml: projectToml(), agentsToml: claudeSlot() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const { ANTHROPIC_API_KEY: _key, ...env } = model.env(configDir());
    const agent = await cluster.agent(project.clone("a"), server.ws, [], {
      ...env,
      ANTHROPIC_API_KEY: undefined,
      CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-scripted",
    });
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Over the limit", stage: "current" });
    const paused = await waitFor(
      async () => (await nodeEntry(server, agent.nodeId))?.paused as PauseState | undefined,
      "the node paused",
      60_000,
      100,
    );
    expect(paused.until).toBe(resetSecs * 1000);
    expect(paused.reason).toMatch(/limit/);
    const after = await waitFor(async () => {
      const i = await item(server, s.id);
      return i.claim === null ? i : undefined;
    }, "the claim given back");
    expect(after).toMatchObject({ stage: "current", retries: 0, blocked: null });
    expect((await agent.health()).paused).toMatchObject({ until: resetSecs * 1000 });
  });
});
