import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DocClient } from "../support/doc-client.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";

const cluster = new Cluster();
let project: Project | undefined;
let mcp: Client | undefined;
let replica: DocClient | undefined;
afterEach(async () => {
  await mcp?.close();
  replica?.close();
  await cluster.stopAll();
  project?.cleanup();
  project = mcp = replica = undefined;
});

async function send(url: string, method: string, body: unknown): Promise<{ status: number; error?: string }> {
  const res = await fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json().catch(() => ({}))) as { error?: string };
  return { status: res.status, error: json.error };
}

async function inStage(base: string, id: string, stage: string): Promise<Item> {
  return waitFor(
    async () => {
      const s = await getJson<Item>(`${base}/api/stories/${id}`);
      return s.stage === stage ? s : undefined;
    },
    `${id} in ${stage}`,
    60_000,
  );
}

describe("agents.toml deleted while an agent runs (issue 24, row 14)", () => {
  it("is an invalid config: one error line, the previous slots kept and working; restoring the file is picked up", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    const agent = await cluster.agent(root, server.ws);
    await waitFor(() => agent.logged("config files watched").length > 0, "the config watcher");
    const file = join(root, ".huskies", "agents.toml");
    const content = readFileSync(file, "utf8");
    rmSync(file);

    const rejected = await waitFor(() => agent.logged("config edit rejected; keeping the previous config")[0], "the rejection");
    expect(rejected.level).toBe(50);
    expect(String(rejected.reason)).toBe(`config file ${file} disappeared (restore it; huskies goes on with the previous config)`);
    expect(agent.logged("config reloaded")).toHaveLength(0);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Still working", stage: "current" });
    expect((await inStage(server.http, story.id, "qa")).lastRun?.node).toBe(agent.nodeId);
    const entry = (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === agent.nodeId)!;
    expect(entry.capacity.coder).toBe(1);

    writeFileSync(file, content);
    await waitFor(() => agent.logged("config reloaded").length === 1, "the restored file picked up");
  }, 90_000);
});

describe("control characters in names and bodies (issue 24, row 15)", () => {
  it("get 400 on REST, a tool error on MCP and exit 1 from the CLI; newline, tab and CRLF are fine; nothing refused is stored", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const api = `${server.http}/api`;
    const refusals: Array<[string, string, unknown, string]> = [
      ["POST", "/stories", { name: "bad\u0000name" }, "name: contains a control character (U+0000) at position 3"],
      ["POST", "/stories", { name: "ok", body: "clear \u001b[2J the screen" }, "body: contains a control character (U+001B) at position 6"],
      ["POST", "/stories", { name: "ok", criteria: ["fine", "be\u0007ll"] }, "criteria.1: contains a control character (U+0007)"],
      ["POST", "/stories", { name: "lone\rcarriage return" }, "name: contains a control character (U+000D)"],
    ];
    for (const [method, path, body, error] of refusals) {
      const r = await send(`${api}${path}`, method, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.error).toContain(error);
      expect(r.error).toContain("only newline and tab are allowed");
    }
    const good = await postJson<Item>(`${api}/stories`, { name: "Tabs\tand lines", body: "line one\nline two\r\n\tindented\n" });
    expect(good.body).toBe("line one\nline two\r\n\tindented\n");
    for (const [method, path, body, error] of [
      ["PATCH", `/stories/${good.id}`, { name: "C1\u0085control" }, "name: contains a control character (U+0085)"],
      ["PATCH", `/stories/${good.id}`, { body: "DEL\u007f" }, "body: contains a control character (U+007F)"],
      ["POST", `/stories/${good.id}/move`, { stage: "current", reason: "re\u0000do" }, "reason: contains a control character (U+0000)"],
      ["POST", `/stories/${good.id}/block`, { reason: "x\u001b" }, "reason: contains a control character (U+001B)"],
    ] as const) {
      const r = await send(`${api}${path}`, method, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.error).toContain(error);
    }

    mcp = new Client({ name: "huskies-test", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${server.http}/mcp`)));
    const viaMcp = (await mcp.callTool({ name: "create_story", arguments: { name: "mcp\u0000name" } })) as {
      isError?: boolean;
      content: Array<{ text: string }>;
    };
    expect(viaMcp.isError).toBe(true);
    expect(viaMcp.content[0]!.text).toContain("name: contains a control character (U+0000)");

    const bodyFile = join(project.dir, "body.md");
    writeFileSync(bodyFile, "pasted from a binary\u0000file\n");
    const cli = await runCli(["story", "add", "From the CLI", "--body-file", bodyFile], { env: { HUSKIES_SERVER: server.http } });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("body: contains a control character (U+0000)");
    const bell = await runCli(["story", "add", "Ring the \u0007 bell"], { env: { HUSKIES_SERVER: server.http } });
    expect(bell.code).toBe(1);
    expect(bell.stderr).toContain("name: contains a control character (U+0007)");

    const stored = await getJson<Item[]>(`${api}/stories`);
    expect(stored.map((s) => s.id)).toEqual([good.id]);
    expect(stored[0]!.name).toBe("Tabs\tand lines");
  }, 60_000);

  it("a NUL in a name another replica wrote straight into the document still merges, with a clean commit message", async () => {
    // An operator's replica (operator_keys) signs what it writes, so the item exists for every
    // node; a replica without that right could not plant an item at all (§13).
    replica = new DocClient(ephemeralIdentity(), { signs: true });
    project = createProject({
      projectToml: projectToml({ default_qa: "server", max_coders: 1 }).replace(
        "[gates]",
        `operator_keys = ["${replica.identity.nodeId}"]\n\n[gates]`,
      ),
      agentsToml: `${commandSlots(1)}\n${commandSlots(1, "true", "mergemaster", "merger")}`,
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("a"), server.ws);
    await replica.link(server.ws);
    const item = replica.pipeline.createItem({ name: "Evil\u0000name \u001b[31mred", type: "story", stage: "current", body: "# x\n" });
    const done = await inStage(server.http, item.id, "done");
    expect(done.blocked).toBeNull();
    expect(git(project.origin, "log", "-1", "--format=%s", "main")).toBe(`${item.id}: Evilname [31mred`);
  }, 90_000);
});
