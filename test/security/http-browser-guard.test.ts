import { hostname, networkInterfaces } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Cluster, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { rawRequest, tryUpgrade } from "../support/raw-http.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  cleanups.splice(0).forEach((c) => c());
  await cluster.stopAll();
  project?.cleanup();
});

const JSON_CT = { "content-type": "application/json" };
const story = JSON.stringify({ name: "From a web page", stage: "current" });
const MCP_INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } },
});
const MCP_HEADERS = { ...JSON_CT, accept: "application/json, text/event-stream" };

describe("browsers cannot reach a node from another site", () => {
  it("refuses foreign Host names (DNS rebinding) on REST, MCP, the board and /crdt-sync; serves loopback names and public_urls", async () => {
    project = createProject({ projectToml: 'public_urls = ["https://huskies.example.com"]\n' + projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const url = server.http;
    const evil = { host: `attacker.example:${server.port}` };

    for (const [method, path, body, headers] of [
      ["GET", "/api/pipeline", undefined, {}],
      ["POST", "/api/stories", story, JSON_CT],
      ["POST", "/api/tokens", "{}", JSON_CT],
      ["POST", "/mcp", MCP_INIT, MCP_HEADERS],
      ["GET", "/", undefined, {}],
      ["GET", "/health", undefined, {}],
    ] as const) {
      const res = await rawRequest(`${url}${path}`, { method, body, headers: { ...headers, ...evil } });
      expect(res.status, `${method} ${path}`).toBe(421);
      expect(res.json().error).toMatch(/does not serve the host name attacker\.example/);
    }
    expect((await tryUpgrade(server.ws, evil)).outcome).toBe(403);

    // Names the node serves: loopback in every spelling, and the host of a public URL.
    for (const host of [
      `localhost:${server.port}`,
      `127.0.0.1:${server.port}`,
      `127.3.4.5:${server.port}`,
      `[::1]:${server.port}`,
      "huskies.example.com",
      `LOCALHOST.:${server.port}`,
    ]) {
      const res = await rawRequest(`${url}/api/pipeline`, { headers: { host } });
      expect(res.status, host).toBe(200);
    }
    // The MCP SDK's own DNS-rebinding check is on, with the same names: it accepts these too.
    for (const host of ["huskies.example.com", `127.3.4.5:${server.port}`, `localhost:${server.port}`]) {
      expect((await rawRequest(`${url}/mcp`, { method: "POST", body: MCP_INIT, headers: { ...MCP_HEADERS, host } })).status, host).toBe(
        200,
      );
    }
    const viaPublic = await tryUpgrade(server.ws, { host: "huskies.example.com" });
    expect(viaPublic.outcome).toBe("open");
    if (viaPublic.outcome === "open") viaPublic.ws.close();
    expect(await (await fetch(`${url}/api/pipeline`)).json()).toMatchObject({ stages: { current: [] } });
  });

  it("refuses a foreign Origin on every method of REST and MCP and on the /crdt-sync upgrade; the same origin and allowed_origins work", async () => {
    project = createProject({
      projectToml:
        'allowed_origins = ["https://dashboard.example.org"]\npublic_urls = ["https://huskies.example.com/"]\n' + projectToml({}),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const url = server.http;
    const evil = { origin: "http://evil.example" };

    for (const [method, path, body, headers] of [
      ["POST", "/api/stories", story, { "content-type": "text/plain" }],
      ["POST", "/api/stories", story, JSON_CT],
      ["POST", "/api/tokens", JSON.stringify({ ttlSecs: 60 }), JSON_CT],
      ["GET", "/api/pipeline", undefined, {}],
      ["DELETE", "/api/stories/1_story_x", undefined, {}],
      ["POST", "/mcp", MCP_INIT, MCP_HEADERS],
      ["GET", "/mcp", undefined, {}],
    ] as const) {
      const res = await rawRequest(`${url}${path}`, { method, body, headers: { ...headers, ...evil } });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json().error).toMatch(/origin http:\/\/evil\.example are not allowed/);
    }
    for (const origin of [
      "null",
      "http://127.0.0.1.evil.example",
      `https://127.0.0.1:${server.port}`,
      `http://127.0.0.1:${server.port + 1}`,
    ]) {
      expect((await rawRequest(`${url}/api/pipeline`, { headers: { origin } })).status, origin).toBe(403);
    }
    expect((await tryUpgrade(server.ws, evil)).outcome).toBe(403);
    expect(server.logs.some((l) => l.msg === "closing sync connection")).toBe(false);
    expect(JSON.parse((await runCli(["status", "--json"], { env: { HUSKIES_SERVER: url } })).stdout).stages.current).toEqual([]);

    // The board's own origin, allowed_origins and the origin of a public URL may write.
    for (const [origin, host] of [
      [url, undefined],
      [`http://localhost:${server.port}`, `localhost:${server.port}`],
      ["https://dashboard.example.org", undefined],
      ["https://huskies.example.com", "huskies.example.com"],
    ] as const) {
      const res = await rawRequest(`${url}/api/stories`, {
        method: "POST",
        body: JSON.stringify({ name: `from ${origin}` }),
        headers: { ...JSON_CT, origin, ...(host ? { host } : {}) },
      });
      expect(res.status, origin).toBe(201);
    }
    const mcp = await rawRequest(`${url}/mcp`, { method: "POST", body: MCP_INIT, headers: { ...MCP_HEADERS, origin: url } });
    expect(mcp.status).toBe(200);
    expect(mcp.json<{ result: { serverInfo: { name: string } } }>().result.serverInfo.name).toBe("huskies");

    // A browser-style client on the node's own origin syncs the document.
    const doc = new Y.Doc();
    class SameOriginWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { origin: url });
      }
    }
    const provider = new WebsocketProvider(`ws://127.0.0.1:${server.port}`, "crdt-sync", doc, {
      WebSocketPolyfill: SameOriginWebSocket as never,
      disableBc: true,
    });
    cleanups.push(() => provider.destroy());
    await waitFor(() => Object.keys(doc.getMap("items").toJSON()).length === 4, "the same-origin client to receive the 4 stories");
  });

  it("takes writes only as application/json; clients without Origin (CLI, scripts) keep working", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const url = server.http;
    for (const ct of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonp",
      undefined,
    ]) {
      const res = await rawRequest(`${url}/api/stories`, { method: "POST", body: story, headers: ct ? { "content-type": ct } : {} });
      expect(res.status, String(ct)).toBe(415);
    }
    const res = await rawRequest(`${url}/api/stories`, { method: "PATCH", body: "{}", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(415);
    expect(
      (
        await rawRequest(`${url}/api/stories`, {
          method: "POST",
          body: story,
          headers: { "content-type": "Application/JSON; charset=utf-8" },
        })
      ).status,
    ).toBe(201);
    expect((await fetch(`${url}/api/pipeline`)).status).toBe(200);

    // The CLI sends JSON on every write, also those without a body.
    const env = { HUSKIES_SERVER: url };
    const add = await runCli(["story", "add", "Via CLI", "--stage", "current"], { env });
    expect(add.stderr).toBe("");
    const id = add.stdout.trim();
    const move = await runCli(["story", "move", id, "backlog"], { env });
    expect([move.code, move.stderr]).toEqual([0, ""]);
    const stories = JSON.parse((await runCli(["story", "list", "--json"], { env })).stdout) as Array<{ name: string }>;
    expect(stories.map((s) => s.name).sort()).toEqual(["From a web page", "Via CLI"]);
  });

  it("bound to 0.0.0.0, serves the machine's hostname and interface addresses and nothing else", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const env = { HUSKIES_ADMIN_TOKEN: "guard-admin" };
    const server = await cluster.server(project.root, ["--no-agent", "--host", "0.0.0.0"], env);
    const auth = { authorization: "Bearer guard-admin" };
    const addresses = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((i) => i.family === "IPv4").map((i) => i.address));
    for (const host of [hostname(), ...addresses].map((h) => `${h}:${server.port}`)) {
      expect((await rawRequest(`${server.http}/api/pipeline`, { headers: { ...auth, host } })).status, host).toBe(200);
    }
    expect((await rawRequest(`${server.http}/api/pipeline`, { headers: { ...auth, host: `rebind.example:${server.port}` } })).status).toBe(
      421,
    );
    expect((await tryUpgrade(`${server.ws}?token=guard-admin`, { host: "rebind.example" })).outcome).toBe(403);
  });
});
