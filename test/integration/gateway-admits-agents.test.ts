import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { register } from "../support/gateway-client.js";
import { rawRequest } from "../support/raw-http.js";
import { selfSignedCert, type TestCert } from "../support/tls-cert.js";
import { waitFor } from "../support/wait-for.js";
import { decodeJoin, type GatewayJoin } from "../../src/trust/join-string.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import type { NodeEntry } from "../../src/state/item.js";

const ADMIN = "project-admin";
const JSON_CT = { "content-type": "application/json" };
const BEARER = { authorization: `Bearer ${ADMIN}` };
const cluster = new Cluster();
let project: Project | undefined;
let dir: string;
let tls: TestCert;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "huskies-gw-admit-"));
  tls = selfSignedCert(dir, "project");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** A project server over https (self-signed, auth required) and a gateway fronting it with the pinned fingerprint. */
async function setup(extraProjects = ""): Promise<{ server: NodeProc; https: string; gw: string }> {
  project = createProject({ projectToml: 'auth = "required"\n' + projectToml({}), agentsToml: commandSlots(1) });
  const server = await cluster.server(project.root, ["--no-agent", "--tls-cert", tls.cert, "--tls-key", tls.key], {
    HUSKIES_ADMIN_TOKEN: ADMIN,
  });
  const https = `https://127.0.0.1:${server.port}`;
  const config = join(dir, `projects-${server.port}.toml`);
  writeFileSync(
    config,
    `[[project]]\nname = "demo"\nurl = "${https}"\nadmin_token_env = "DEMO_ADMIN"\nfingerprint = "${tls.fingerprint}"\n${extraProjects}`,
  );
  const gateway = await cluster.gateway(["--config", config], { DEMO_ADMIN: ADMIN });
  return { server, https, gw: `http://127.0.0.1:${gateway.port}` };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(url, { method: "POST", body: JSON.stringify(body), headers: { ...JSON_CT, ...headers } });

describe("a gateway that admits agents", () => {
  it("a gateway join string registers the agent, admits its key in the project and the agent joins it; single-use; listed with its project's view", async () => {
    const { https, gw } = await setup();
    const minted = await post(`${gw}/gateway/tokens`, { project: "demo", ttlSecs: 600 });
    expect(minted.status).toBe(201);
    const j = decodeJoin(minted.json<{ join: string }>().join) as GatewayJoin;
    expect(j).toMatchObject({
      kind: "gateway",
      url: gw,
      project: "demo",
      gatewayId: expect.stringMatching(/^gw_/),
      token: expect.stringMatching(/^hj_/),
    });
    expect(j.fingerprint).toBeUndefined(); // this gateway serves plain http

    const root = project!.clone("agent");
    const agent = await cluster
      .spawn("agent", ["agent", root, "--join", minted.json<{ join: string }>().join, "--port", "0", "--label", "via-gateway"])
      .ready();
    const nodes = async () => (await rawRequest(`${https}/api/nodes`, { headers: BEARER })).json<NodeEntry[]>();
    await waitFor(async () => (await nodes()).some((n) => n.id === agent.nodeId && n.alive), "the agent synced with its project");
    expect(agent.logged("registered with the gateway; joining its project")).toHaveLength(1);

    type Listed = {
      nodeId: string;
      project: string;
      label: string;
      address: string;
      alive: boolean | null;
      paused: { reason: string } | null;
    };
    const listed = async () => (await rawRequest(`${gw}/gateway/agents`)).json<Listed[]>();
    const row = await waitFor(
      async () => (await listed()).find((a) => a.nodeId === agent.nodeId && a.alive),
      "the agent on the gateway, alive",
    );
    expect(row).toMatchObject({ project: "demo", label: "via-gateway", address: `ws://127.0.0.1:${agent.port}/crdt-sync`, paused: null });
    await post(`${https}/api/nodes/${agent.nodeId}/pause`, { reason: "lunch" }, BEARER);
    await waitFor(
      async () => (await listed()).find((a) => a.nodeId === agent.nodeId)?.paused?.reason === "lunch",
      "the pause on the gateway",
    );

    // The gateway token is spent: a second agent with the same string is refused, one line, exit 1.
    const second = await runCli(["agent", project!.clone("second"), "--join", minted.json<{ join: string }>().join, "--port", "0"]);
    expect(second.code).toBe(1);
    expect(second.stderr.split("\n").filter((l) => l.startsWith("error:"))).toEqual([
      `error: the gateway at ${gw} refused the registration: token already used`,
    ]);
  });

  it("POST /api/nodes/admit is admin-only, validates its input and does not re-admit a revoked key", async () => {
    const { https } = await setup();
    const key = ephemeralIdentity().nodeId;
    expect((await post(`${https}/api/nodes/admit`, { nodeId: key })).status).toBe(401);
    expect((await post(`${https}/api/nodes/admit`, { nodeId: "nope" }, BEARER)).json()).toEqual({
      error: "nodeId: nodeId must be a 64-char hex public key",
    });
    const ok = await post(`${https}/api/nodes/admit`, { nodeId: key }, BEARER);
    expect(ok.status).toBe(201);
    expect(decodeJoin(ok.json<{ join: string }>().join)).toEqual({
      v: 1,
      kind: "rendezvous",
      url: `wss://127.0.0.1:${new URL(https).port}/crdt-sync`,
      nodeId: expect.any(String),
      fingerprint: tls.fingerprint,
    });
    const revoked = ephemeralIdentity().nodeId;
    expect((await rawRequest(`${https}/api/nodes/${revoked}`, { method: "DELETE", headers: BEARER })).status).toBe(200);
    const again = await post(`${https}/api/nodes/admit`, { nodeId: revoked }, BEARER);
    expect([again.status, again.json().error]).toEqual([409, `key ${revoked.slice(0, 12)}… is revoked in this project`]);
  });

  it("tokens name a configured project; a project that cannot admit gives 502 and the token back", async () => {
    const { gw } = await setup(`\n[[project]]\nname = "down"\nurl = "http://127.0.0.1:9"\n`);
    expect((await post(`${gw}/gateway/tokens`, { ttlSecs: 60 })).json()).toEqual({ error: "body needs {project}: one of demo, down" });
    expect((await post(`${gw}/gateway/tokens`, { project: "other", ttlSecs: 60 })).json()).toEqual({
      error: "project must be one of: demo, down",
    });
    const { token } = (await post(`${gw}/gateway/tokens`, { project: "down", ttlSecs: 60 })).json<{ token: string }>();
    const agent = ephemeralIdentity();
    const first = await register(gw, agent, token);
    expect(first.status).toBe(502);
    expect(first.body.error).toMatch(/^could not admit this key in project down: /);
    // Not spent: the same agent can simply try again.
    expect((await register(gw, agent, token)).status).toBe(502);
    const overview = (await rawRequest(`${gw}/gateway/overview`)).json<{ projects: Array<{ name: string; reachable: boolean }> }>();
    expect(overview.projects.map((p) => [p.name, p.reachable])).toEqual([
      ["demo", true],
      ["down", false],
    ]);
  });
});
