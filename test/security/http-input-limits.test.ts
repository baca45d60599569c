import { afterEach, describe, expect, it } from "vitest";
import { Cluster, postJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { MAX_BODY_BYTES, MAX_TOKEN_TTL_SECS } from "../../src/config/defaults.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

const JSON_CT = { "content-type": "application/json" };

/** A body that sends `first` bytes and then stalls until `release()`: the server must answer without the rest. */
function stalledBody(first: number, chunk = 16 * 1024): { body: AsyncIterable<Buffer>; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  return {
    release,
    body: (async function* () {
      for (let sent = 0; sent < first; sent += chunk) yield Buffer.alloc(Math.min(chunk, first - sent), 0x20);
      await released;
    })(),
  };
}

describe("input limits", () => {
  it("a body over max_body_bytes gets 413 before it is read whole, by Content-Length or while streaming a chunked body", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const url = `${server.http}/api/stories`;

    // Announces 64 MB, sends 32 KB, waits: the answer comes from the header alone.
    const big = stalledBody(32 * 1024);
    const announced = await rawRequest(url, {
      method: "POST",
      body: big.body,
      headers: { ...JSON_CT, "content-length": 64 * 1024 * 1024 },
    });
    big.release();
    expect(announced.status).toBe(413);
    expect(announced.json().error).toBe(`request body over max_body_bytes (${MAX_BODY_BYTES} bytes)`);

    // Chunked, no length: refused once the stream passes the limit, with the rest never sent.
    const chunked = stalledBody(MAX_BODY_BYTES + 64 * 1024);
    const streamed = await rawRequest(url, { method: "POST", body: chunked.body, headers: JSON_CT });
    chunked.release();
    expect(streamed.status).toBe(413);

    // A whole body just over the limit, sent in full, and one under it.
    const justOver = JSON.stringify({ name: "big", body: "x".repeat(MAX_BODY_BYTES) });
    expect((await rawRequest(url, { method: "POST", body: justOver, headers: JSON_CT })).status).toBe(413);
    expect((await rawRequest(url, { method: "PATCH", body: justOver, headers: JSON_CT })).status).toBe(413);
    expect(
      (
        await rawRequest(`${server.http}/mcp`, {
          method: "POST",
          body: justOver,
          headers: { ...JSON_CT, accept: "application/json, text/event-stream" },
        })
      ).status,
    ).toBe(413);
    expect(
      (await rawRequest(url, { method: "POST", body: JSON.stringify({ name: "fits", body: "y".repeat(90_000) }), headers: JSON_CT }))
        .status,
    ).toBe(201);
    expect((await fetch(`${server.http}/health`)).ok).toBe(true);
  });

  it("max_body_bytes in project.toml sets the limit", async () => {
    project = createProject({ projectToml: "max_body_bytes = 4096\n" + projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const url = `${server.http}/api/stories`;
    expect(
      (await rawRequest(url, { method: "POST", body: JSON.stringify({ name: "n", body: "z".repeat(5000) }), headers: JSON_CT })).status,
    ).toBe(413);
    expect(
      (await rawRequest(url, { method: "POST", body: JSON.stringify({ name: "n", body: "z".repeat(3000) }), headers: JSON_CT })).status,
    ).toBe(201);
  });

  it("token TTLs must be positive, finite and at most 30 days", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const url = `${server.http}/api/tokens`;
    for (const ttl of ["1e306", "-1", "0", '"1h"', "null", "[]", String(MAX_TOKEN_TTL_SECS + 1), "1e999"]) {
      const res = await rawRequest(url, { method: "POST", body: `{"ttlSecs": ${ttl}}`, headers: JSON_CT });
      expect(res.status, ttl).toBe(400);
      expect(res.json().error).toMatch(/ttlSecs must be a positive number of seconds, at most 2592000/);
    }
    const longest = await postJson<{ expiresAt: number }>(url, { ttlSecs: MAX_TOKEN_TTL_SECS });
    expect(longest.expiresAt).toBeLessThanOrEqual(Date.now() + MAX_TOKEN_TTL_SECS * 1000);
    const cli = await runCli(["token", "create", "--ttl", "31d"], { env: { HUSKIES_SERVER: server.http } });
    expect([cli.code, cli.stderr.trim()]).toEqual([1, "error: ttlSecs must be a positive number of seconds, at most 2592000 (30 days)"]);
  });

  it("fuzz: bad JSON, wrong types, bad ids and bad percent-encoding on every route get 4xx, never 5xx", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const item = await postJson<{ id: string }>(`${server.http}/api/stories`, { name: "Target", criteria: ["one"] });
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const badBodies = [
      "",
      "{",
      "}",
      "null",
      "[]",
      "42",
      '"text"',
      "true",
      '{"a":',
      "\u0000",
      Buffer.from([0xff, 0xfe, 0xfd]).toString("latin1"),
      deep,
      '{"name":null}',
      '{"name":5}',
      '{"name":""}',
      '{"name":"x","stage":"7_limbo"}',
      '{"name":"x","type":"epic"}',
      `{"name":"${"n".repeat(5000)}"}`,
      '{"stage":[]}',
      '{"stage":null}',
      '{"index":"a"}',
      '{"index":-1}',
      '{"index":1.5}',
      '{"index":1e308}',
      '{"index":99}',
      '{"done":"yes","index":0}',
      '{"reason":{"x":1}}',
      '{"node":42}',
      '{"node":"nobody"}',
      '{"ttlSecs":1e306}',
      '{"dependsOn":"x"}',
      '{"dependsOn":["../../etc"]}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"qa":"robot"}',
      '{"unknown":1}',
    ];
    const id = item.id;
    const badIds = [
      "%E0%A4%A",
      "%",
      "%%",
      "..%2F..%2Fetc%2Fpasswd",
      "1_story_x%00",
      "x".repeat(5000),
      "1_story_target%20",
      "-1_story_x",
      "1_story_NOPE",
    ];
    const routes: Array<[string, (id: string) => string, boolean]> = [
      ["POST", () => "/api/stories", true],
      ["PATCH", (i) => `/api/stories/${i}`, true],
      ["POST", (i) => `/api/stories/${i}/move`, true],
      ["POST", (i) => `/api/stories/${i}/tick`, true],
      ["POST", (i) => `/api/stories/${i}/block`, true],
      ["POST", (i) => `/api/stories/${i}/assign`, true],
      ["POST", (i) => `/api/stories/${i}/unblock`, false],
      ["POST", (i) => `/api/stories/${i}/release`, false],
      ["POST", () => "/api/tokens", true],
      ["POST", (i) => `/api/nodes/${i}/pause`, true],
      ["POST", (i) => `/api/nodes/${i}/resume`, false],
      ["POST", () => "/mcp", true],
    ];
    const results: string[] = [];
    const check = async (method: string, path: string, body: string | undefined, expectClientError: boolean) => {
      const res = await rawRequest(`${server.http}${path}`, {
        method,
        body,
        headers: { ...JSON_CT, accept: "application/json, text/event-stream" },
      });
      if (res.status >= 500 || (expectClientError && (res.status < 400 || res.status >= 500)))
        results.push(`${method} ${path.slice(0, 80)} ${JSON.stringify(body?.slice(0, 60))} → ${res.status} ${res.text.slice(0, 120)}`);
    };
    for (const [method, path, readsBody] of routes) {
      for (const body of badBodies) {
        // Some bodies are fine for some routes (`{"index":-1}` is no worse than `{}` for a create); these are checked for "no 5xx" only.
        const clearlyBad =
          ["", "{", "}", "null", "[]", "42", '"text"', "true", '{"a":', "\u0000", deep].includes(body) || body.startsWith("\u00ff");
        // An empty array is an (empty) JSON-RPC batch to the MCP SDK, which it acknowledges with 202.
        const mcpBatch = path(id) === "/mcp" && body === "[]";
        await check(method, path(id), body, readsBody && clearlyBad && body !== "" && !mcpBatch);
      }
    }
    for (const bad of badIds) {
      for (const [method, path] of routes.filter(([, p]) => p("ID").includes("ID")))
        await check(method, path(bad), '{"stage":"current","index":0,"node":"x","name":"y"}', true);
      await check("GET", `/api/stories/${bad}`, undefined, true);
      await check("GET", `/api/stories/${bad}/log`, undefined, true);
      await check("DELETE", `/api/stories/${bad}`, undefined, true);
    }
    for (const path of ["/%E0%A4%A", "/api/%", "/mcp%", "/health%ZZ", "/%2e%2e/%2e%2e/etc/passwd"])
      await check("GET", path, undefined, false);
    expect(results).toEqual([]);
    expect((await rawRequest(`${server.http}/api/stories/%E0%A4%A`)).status).toBe(400);
    expect((await rawRequest(`${server.http}/%E0%A4%A`)).status).toBe(400);
    expect(server.logs.filter((l) => l.msg === "request failed")).toEqual([]);
    // Nothing leaked into the document, and the node still works.
    const after = (await (await fetch(`${server.http}/api/stories/${id}`)).json()) as Record<string, unknown>;
    expect(after).not.toHaveProperty("polluted");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`${server.http}/health`)).ok).toBe(true);
  });
});
