import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Cluster } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { selfSignedCert } from "../support/tls-cert.js";
import type { Item } from "../../src/state/item.js";
import { OPERATOR_TOOLS } from "../../src/server/mcp-server.js";

const ADMIN = "second-admin";
const GATEWAY_ADMIN = "gateway-admin";
const cluster = new Cluster();
const projects: Project[] = [];
let client: Client | undefined;
let dir: string | undefined;
afterEach(async () => {
  await client?.close();
  await cluster.stopAll();
  for (const p of projects.splice(0)) p.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Result = { isError?: boolean; content: Array<{ text: string }> };
const text = (r: unknown) => (r as Result).content[0]!.text;

describe("the gateway's /mcp", () => {
  it("one MCP endpoint drives every project: create_story with project set lands in that project, over its pinned https with its admin token", async () => {
    dir = mkdtempSync(join(tmpdir(), "huskies-gw-mcp-"));
    const tls = selfSignedCert(dir, "second");
    const first = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const second = createProject({ projectToml: 'auth = "required"\n' + projectToml({ auto_promote: false }) });
    projects.push(first, second);
    const a = await cluster.server(first.root, ["--no-agent"]);
    const b = await cluster.server(second.root, ["--no-agent", "--tls-cert", tls.cert, "--tls-key", tls.key], {
      HUSKIES_ADMIN_TOKEN: ADMIN,
    });
    const bUrl = `https://127.0.0.1:${b.port}`;
    const config = join(dir, "projects.toml");
    writeFileSync(
      config,
      [
        `[[project]]\nname = "first"\nurl = "${a.http}"\n`,
        `[[project]]\nname = "second"\nurl = "${bUrl}"\nadmin_token_env = "SECOND_ADMIN"\nfingerprint = "${tls.fingerprint}"\n`,
        // The same server under a wrong pin: the gateway must refuse it before sending the token.
        `[[project]]\nname = "impostor"\nurl = "${bUrl}"\nadmin_token_env = "SECOND_ADMIN"\nfingerprint = "${"0".repeat(64)}"\n`,
      ].join("\n"),
    );
    const gateway = await cluster.gateway(["--config", config], { SECOND_ADMIN: ADMIN, HUSKIES_ADMIN_TOKEN: GATEWAY_ADMIN });

    // What a `.mcp.json` entry of type http with the gateway's URL (and its token) gives Claude Code.
    client = new Client({ name: "huskies-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${gateway.port}/mcp`)));
    const tools = (await client.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual([...OPERATOR_TOOLS.map((t) => t.name), "aggregate_status", "list_projects"].sort());
    for (const t of tools.filter((t) => !["aggregate_status", "list_projects"].includes(t.name)))
      expect(Object.keys(t.inputSchema.properties ?? {}), t.name).toContain("project");

    const created = await client.callTool({
      name: "create_story",
      arguments: { project: "second", name: "Health check", acceptance_criteria: ["GET /healthz answers 200"] },
    });
    expect(created.isError).toBeFalsy();
    expect(JSON.parse(text(created))).toMatchObject({ id: "1_story_health_check", stage: "backlog" });
    const inSecond = await rawRequest(`${bUrl}/api/stories`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(inSecond.json<Item[]>().map((i) => i.name)).toEqual(["Health check"]);
    expect(await (await fetch(`${a.http}/api/stories`)).json()).toEqual([]);

    // The project's own /mcp keeps its authority: without its admin token (or with another), 401 and nothing is written.
    const call = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "create_story", arguments: { name: "Sneaked in" } },
    });
    const mcpHeaders = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    for (const headers of [mcpHeaders, { ...mcpHeaders, authorization: `Bearer ${GATEWAY_ADMIN}` }]) {
      const refused = await rawRequest(`${bUrl}/mcp`, { method: "POST", body: call, headers });
      expect(refused.status).toBe(401);
    }

    // Reads and writes of the project go through the same way; its tool errors come back as they are.
    const shown = await client.callTool({ name: "show_story", arguments: { project: "second", id: "1_story_health_check" } });
    expect(JSON.parse(text(shown)).criteria).toEqual([{ text: "GET /healthz answers 200", done: false }]);
    const unknown = await client.callTool({ name: "show_story", arguments: { project: "first", id: "1_story_health_check" } });
    expect(unknown).toMatchObject({ isError: true });
    expect(text(unknown)).toContain("unknown story 1_story_health_check");

    // All projects at once.
    const listed = JSON.parse(text(await client.callTool({ name: "list_projects", arguments: {} })));
    expect(listed.map((p: { name: string; reachable: boolean }) => [p.name, p.reachable])).toEqual([
      ["first", true],
      ["second", true],
      ["impostor", false],
    ]);
    const status = JSON.parse(text(await client.callTool({ name: "aggregate_status", arguments: {} })));
    expect(status.projects.find((p: { name: string }) => p.name === "second").stages.backlog).toBe(1);

    // Bad input: no project with several, an unknown one, a wrong pin, invalid arguments — tool errors.
    const noProject = await client.callTool({ name: "create_story", arguments: { name: "Where?" } });
    expect(noProject.isError).toBe(true);
    expect(text(noProject)).toContain("say which project: one of first, second, impostor");
    const nowhere = await client.callTool({ name: "create_story", arguments: { project: "third", name: "x" } });
    expect(text(nowhere)).toContain("unknown project third");
    const pinned = await client.callTool({ name: "create_story", arguments: { project: "impostor", name: "x" } });
    expect(pinned.isError).toBe(true);
    expect(text(pinned)).toContain("fingerprint");
    const invalid = await client.callTool({ name: "create_story", arguments: { project: "first", name: "x", type: "epic" } });
    expect(invalid.isError).toBe(true);
    expect(await (await fetch(`${a.http}/api/stories`)).json()).toEqual([]);
    const after = await rawRequest(`${bUrl}/api/stories`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(after.json<Item[]>().map((i) => i.name)).toEqual(["Health check"]);
  });
});
