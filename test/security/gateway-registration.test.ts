import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { register } from "../support/gateway-client.js";
import { rawRequest } from "../support/raw-http.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { registrationMessage } from "../../src/trust/registration-proof.js";
import { MAX_TOKEN_TTL_SECS } from "../../src/config/defaults.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";

const cluster = new Cluster();
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await cluster.stopAll();
  cleanups.splice(0).forEach((c) => c());
});

const JSON_CT = { "content-type": "application/json" };

describe("gateway registration proves possession of the key", () => {
  it("a signed challenge registers once; a wrong signature is 401 and does not burn the token; challenges are single-use", async () => {
    const gw = await cluster.gateway();
    const url = `http://127.0.0.1:${gw.port}`;
    const agent = ephemeralIdentity();
    const thief = ephemeralIdentity();
    const { token } = await postJson<{ token: string }>(`${url}/gateway/tokens`, { ttlSecs: 600 });

    const asked = await getJson<{ challenge: string; gatewayId: string }>(`${url}/gateway/challenge`);
    expect(asked.challenge).toMatch(/^[0-9a-f]{64}$/);
    expect(asked.gatewayId).toMatch(/^gw_[0-9a-f]{32}$/);

    // Someone who knows the token and the agent's id, but not its key.
    const forged = await register(url, thief, token, (b) => ({ ...b, nodeId: agent.nodeId }));
    expect([forged.status, forged.body]).toEqual([401, { error: "the signature does not prove the key of nodeId" }]);
    // A signature over another token, another gateway, or no signature at all.
    const otherToken = await register(url, agent, token, (b) => ({
      ...b,
      signature: agent.sign(registrationMessage(asked.gatewayId, "hj_other", String(b.challenge))),
    }));
    expect(otherToken.status).toBe(401);
    const otherGateway = await register(url, agent, token, (b) => ({
      ...b,
      signature: agent.sign(registrationMessage("gw_elsewhere", token, String(b.challenge))),
    }));
    expect(otherGateway.status).toBe(401);
    const unsigned = await register(url, agent, token, (b) => ({ ...b, signature: undefined }));
    expect([unsigned.status, unsigned.body.error]).toEqual([400, "Invalid input: expected string, received undefined"]);
    expect(await getJson(`${url}/gateway/agents`)).toEqual([]);

    // The token survived all of that: the key's holder registers with it.
    const ok = await register(url, agent, token);
    expect([ok.status, ok.body]).toEqual([201, { ok: true }]);
    const listed = await getJson<Array<{ nodeId: string; label: string }>>(`${url}/gateway/agents`);
    expect(listed.map((a) => a.nodeId)).toEqual([agent.nodeId]);

    // Replaying the exact request (same challenge and signature) fails on the challenge.
    const replay = await fetch(`${url}/gateway/register`, { method: "POST", headers: JSON_CT, body: JSON.stringify(ok.sent) });
    expect([replay.status, await replay.json()]).toEqual([
      401,
      { error: "unknown, used or expired challenge (GET /gateway/challenge first)" },
    ]);
    const made = await register(url, agent, token, (b) => ({ ...b, challenge: "ab".repeat(32) }));
    expect(made.status).toBe(401);
    // And the token is spent now, even for its rightful holder.
    expect((await register(url, agent, token)).body).toEqual({ error: "token already used" });
  });

  it("off loopback: /gateway/* reads and token minting need the gateway admin token; challenge and register stay open", async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const refused = await runCli(["gateway", "--host", "0.0.0.0", "--port", String(free)], { env: { HUSKIES_ADMIN_TOKEN: "" } });
    expect([refused.code, refused.stderr.trim()]).toEqual([
      1,
      "error: refusing to run a gateway on 0.0.0.0 without HUSKIES_ADMIN_TOKEN (anyone could mint join tokens)",
    ]);

    const gw = await cluster.gateway(["--host", "0.0.0.0"], { HUSKIES_ADMIN_TOKEN: "gw-admin" });
    const url = `http://127.0.0.1:${gw.port}`;
    const admin = { authorization: "Bearer gw-admin" };
    for (const [method, path] of [
      ["GET", "/gateway/agents"],
      ["GET", "/gateway/projects"],
      ["POST", "/gateway/tokens"],
    ] as const) {
      const res = await rawRequest(`${url}${path}`, {
        method,
        body: method === "POST" ? "{}" : undefined,
        headers: method === "POST" ? JSON_CT : {},
      });
      expect(res.status, path).toBe(401);
    }
    expect((await rawRequest(`${url}/gateway/agents`, { headers: admin })).status).toBe(200);
    expect((await rawRequest(`${url}/gateway/projects`, { headers: admin })).status).toBe(200);
    const minted = await rawRequest(`${url}/gateway/tokens`, {
      method: "POST",
      body: JSON.stringify({ ttlSecs: 60 }),
      headers: { ...JSON_CT, ...admin },
    });
    expect(minted.status).toBe(201);
    const agent = ephemeralIdentity();
    expect((await register(url, agent, minted.json<{ token: string }>().token)).status).toBe(201);
    expect((await rawRequest(`${url}/health`)).status).toBe(200);
  });

  it("the gateway has the same input limits and browser rules as a node", async () => {
    const gw = await cluster.gateway();
    const url = `http://127.0.0.1:${gw.port}`;
    for (const ttl of ["1e306", "-5", "0", '"1d"', String(MAX_TOKEN_TTL_SECS + 1)]) {
      const res = await rawRequest(`${url}/gateway/tokens`, { method: "POST", body: `{"ttlSecs":${ttl}}`, headers: JSON_CT });
      expect([res.status, res.json().error], ttl).toEqual([400, "ttlSecs must be a positive number of seconds, at most 2592000 (30 days)"]);
    }
    const huge = await rawRequest(`${url}/gateway/register`, {
      method: "POST",
      body: JSON.stringify({ token: "x".repeat(2 * 1024 * 1024) }),
      headers: JSON_CT,
    });
    expect(huge.status).toBe(413);
    for (const body of ["null", "[]", "{", "42", '{"token":5}']) {
      expect((await rawRequest(`${url}/gateway/register`, { method: "POST", body, headers: JSON_CT })).status, body).toBe(400);
    }
    expect(
      (await rawRequest(`${url}/gateway/register`, { method: "POST", body: "{}", headers: { "content-type": "text/plain" } })).status,
    ).toBe(415);
    expect(
      (await rawRequest(`${url}/gateway/tokens`, { method: "POST", body: "{}", headers: { ...JSON_CT, origin: "http://evil.example" } }))
        .status,
    ).toBe(403);
    expect((await rawRequest(`${url}/gateway/challenge`, { headers: { host: "rebind.example" } })).status).toBe(421);
    expect((await rawRequest(`${url}/gateway/%E0%A4%A`)).status).toBe(400);
    expect(gw.logs.filter((l) => l.msg === "request failed")).toEqual([]);
  });

  it("reads a project that needs its admin token with the token named by admin_token_env, and never shows it", async () => {
    const project: Project = createProject({ projectToml: 'auth = "required"\n' + projectToml({}) });
    cleanups.push(() => project.cleanup());
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: "project-secret" });
    await postJson(`${server.http}/api/stories`, { name: "Seen by the gateway" }, "project-secret");
    const dir = mkdtempSync(join(tmpdir(), "huskies-gw-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, "projects.toml");
    writeFileSync(config, `[[project]]\nname = "demo"\nurl = "${server.http}"\nadmin_token_env = "DEMO_ADMIN_TOKEN"\n`);

    const missing = await runCli(["gateway", "--port", "0", "--config", config], { env: { DEMO_ADMIN_TOKEN: "" } });
    expect([missing.code, missing.stderr.trim()]).toEqual([
      1,
      `error: invalid config ${config}: project demo: environment variable DEMO_ADMIN_TOKEN is not set`,
    ]);

    const gw = await cluster.gateway(["--config", config], { DEMO_ADMIN_TOKEN: "project-secret" });
    const res = await rawRequest(`http://127.0.0.1:${gw.port}/gateway/projects`);
    const [shown] = res.json<Array<{ name: string; reachable: boolean; pipeline: { stages: { backlog: Array<{ name: string }> } } }>>();
    expect(shown).toMatchObject({ name: "demo", reachable: true });
    expect(shown!.pipeline.stages.backlog.map((i) => i.name)).toEqual(["Seen by the gateway"]);
    expect(res.text).not.toContain("project-secret");
  });
});
