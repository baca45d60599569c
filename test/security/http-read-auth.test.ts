import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Cluster, postJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";

const ADMIN = "read-auth-admin";
const BEARER = { authorization: `Bearer ${ADMIN}` };

const cluster = new Cluster();
let project: Project | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
});
afterAll(() => browser?.close());

/** Every read of the REST API, MCP and metrics, for a story that exists. */
function reads(id: string): string[] {
  return [
    "/api/pipeline",
    "/api/stories",
    `/api/stories/${id}`,
    "/api/nodes",
    `/api/stories/${id}/log`,
    `/api/stories/${id}/log?follow`,
    "/metrics",
  ];
}

describe("reads need the admin token wherever sync needs auth", () => {
  it("auth = required on loopback: REST reads, logs, /mcp and token minting answer 401 without the token; /health says nothing secret", async () => {
    project = createProject({ projectToml: 'auth = "required"\n' + projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const url = server.http;
    const item = await postJson<{ id: string; name: string }>(`${url}/api/stories`, { name: "Secret plan", stage: "current" }, ADMIN);

    for (const path of reads(item.id)) {
      const res = await rawRequest(`${url}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.json().error).toMatch(/admin token required/);
      expect((await rawRequest(`${url}${path}`, { headers: { authorization: "Bearer wrong" } })).status, path).toBe(401);
    }
    for (const path of reads(item.id).filter((p) => !p.includes("follow") && p !== "/metrics")) {
      expect((await rawRequest(`${url}${path}`, { headers: BEARER })).status, path).toBeLessThan(500);
    }
    expect((await rawRequest(`${url}/api/stories/${item.id}`, { headers: BEARER })).json<{ name: string }>().name).toBe("Secret plan");
    // EventSource cannot send headers: a read may carry the token as ?token= (the board's log tail does).
    const follow = new AbortController();
    const tail = await fetch(`${url}/api/stories/${item.id}/log?follow&token=${ADMIN}`, { signal: follow.signal });
    expect([tail.status, tail.headers.get("content-type")]).toEqual([200, "text/event-stream"]);
    follow.abort();
    // ... but a write may not.
    expect(
      (
        await rawRequest(`${url}/api/stories?token=${ADMIN}`, {
          method: "POST",
          body: "{}",
          headers: { "content-type": "application/json" },
        })
      ).status,
    ).toBe(401);

    // Minting a join token needs the admin token even on loopback.
    expect(
      (await rawRequest(`${url}/api/tokens`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status,
    ).toBe(401);
    expect(
      (await rawRequest(`${url}/api/tokens`, { method: "POST", body: "{}", headers: { "content-type": "application/json", ...BEARER } }))
        .status,
    ).toBe(201);

    // MCP: refused without the token, works for an SDK client that sends it.
    const bare = new Client({ name: "no-token", version: "1" });
    await expect(bare.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)))).rejects.toThrow(/401|admin token/);
    const client = new Client({ name: "with-token", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: BEARER } }));
    const status = (await client.callTool({ name: "get_pipeline_status", arguments: {} })) as { content: Array<{ text: string }> };
    expect(status.content[0]!.text).toContain("Secret plan");
    await client.close();

    // /health without the token: liveness and convergence, no story ids or names, no addresses.
    const open = await rawRequest(`${url}/health`);
    expect(open.status).toBe(200);
    const h = open.json<Record<string, unknown>>();
    expect(Object.keys(h).sort()).toEqual([
      "config",
      "digest",
      "items",
      "label",
      "mesh",
      "minProtocol",
      "nodeId",
      "paused",
      "protocol",
      "rendezvous",
      "role",
      "schema",
      "tls",
      "unverifiedWrites",
      "version",
    ]);
    expect(Object.keys(h.config as object).sort()).toEqual(["default_qa", "node_alive_secs"]);
    expect(h).toMatchObject({
      nodeId: server.nodeId,
      role: "rendezvous",
      items: 1,
      rendezvous: { connected: false },
      mesh: { peerCount: 0, connectedCount: 0, max: 3 },
    });
    expect(open.text).not.toMatch(/Secret|secret_plan|ws:\/\/|127\.0\.0\.1/);
    const full = (await rawRequest(`${url}/health`, { headers: BEARER })).json<Record<string, unknown>>();
    expect(full).toMatchObject({ nodeId: server.nodeId, running: [], mesh: { peers: [] }, address: expect.stringMatching(/^ws:\/\//) });

    // The CLI presents HUSKIES_ADMIN_TOKEN; without it the server's reason is the one line printed.
    const env = { HUSKIES_SERVER: url };
    const denied = await runCli(["status", "--json"], { env: { ...env, HUSKIES_ADMIN_TOKEN: "" } });
    expect([denied.code, denied.stderr.trim()]).toEqual([1, "error: admin token required (Authorization: Bearer …)"]);
    const allowed = await runCli(["story", "list", "--json"], { env: { ...env, HUSKIES_ADMIN_TOKEN: ADMIN } });
    expect(JSON.parse(allowed.stdout).map((i: { id: string }) => i.id)).toEqual([item.id]);
  });

  it("trusted_keys on loopback without an admin token: reads and token minting are refused, with the reason", async () => {
    project = createProject({ projectToml: `trusted_keys = ["${ephemeralIdentity().nodeId}"]\n` + projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: "" });
    const tokens = await rawRequest(`${server.http}/api/tokens`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(tokens.status).toBe(401);
    expect(tokens.json().error).toMatch(/no HUSKIES_ADMIN_TOKEN set/);
    expect((await rawRequest(`${server.http}/api/pipeline`)).status).toBe(401);
  });

  it("bound beyond loopback (auth auto): reads need the token; an open loopback node stays open", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent", "--host", "0.0.0.0"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    expect((await rawRequest(`${server.http}/api/stories`)).status).toBe(401);
    expect((await rawRequest(`${server.http}/api/stories`, { headers: BEARER })).status).toBe(200);
    await server.stop();
    const openNode = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: "" });
    expect((await rawRequest(`${openNode.http}/api/stories`)).status).toBe(200);
    expect((await rawRequest(`${openNode.http}/health`)).json<{ running?: string[] }>().running).toEqual([]);
  });

  it("the board works with ?token= on a node that needs it, and shows nothing without it", async () => {
    project = createProject({ projectToml: 'auth = "required"\n' + projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    await postJson(`${server.http}/api/stories`, { name: "Visible with the token" }, ADMIN);

    const page = await browser!.newPage();
    await page.goto(`${server.http}/?token=${ADMIN}`);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    await page.getByText("Visible with the token").waitFor();
    await page.fill('input[name="name"]', "Filed from the board with the token");
    await page.click('button[type="submit"]');
    await page.getByText("Filed from the board with the token").waitFor();
    const names = ((await (await fetch(`${server.http}/api/stories`, { headers: BEARER })).json()) as Array<{ name: string }>).map(
      (s) => s.name,
    );
    expect(names).toContain("Filed from the board with the token");

    // Without the token the page loads (static files are public) but its data calls are refused.
    const stranger = await browser!.newPage();
    await stranger.goto(server.http);
    await stranger.getByTestId("connection").waitFor();
    expect(await stranger.evaluate(async () => (await fetch("/api/stories")).status)).toBe(401);
    expect(
      await stranger.evaluate(
        async () =>
          (await fetch("/api/stories", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"x"}' })).status,
      ),
    ).toBe(401);
    expect(await stranger.getByText("Visible with the token").count()).toBe(0);
    await page.close();
    await stranger.close();
  });
});
