import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { selfSignedCert, type TestCert } from "../support/tls-cert.js";
import { waitFor } from "../support/wait-for.js";
import { decodeJoin, encodeJoin, type RendezvousJoin } from "../../src/trust/join-string.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import type { NodeEntry } from "../../src/state/item.js";

const ADMIN = "join-admin-token";
const cluster = new Cluster();
let project: Project | undefined;
let dir: string;
let tls: TestCert;
let other: TestCert;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "huskies-join-"));
  tls = selfSignedCert(dir, "server");
  other = selfSignedCert(dir, "other");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** A rendezvous over https/wss with a self-signed certificate, auth required, and a fresh join string from the CLI. */
async function tlsServer(): Promise<{ server: NodeProc; https: string; mint(): Promise<string> }> {
  project = createProject({ projectToml: 'auth = "required"\n' + projectToml({}), agentsToml: commandSlots(1) });
  const server = await cluster.server(project.root, ["--no-agent", "--tls-cert", tls.cert, "--tls-key", tls.key], {
    HUSKIES_ADMIN_TOKEN: ADMIN,
  });
  const https = `https://127.0.0.1:${server.port}`;
  const env = { HUSKIES_SERVER: https, HUSKIES_ADMIN_TOKEN: ADMIN, HUSKIES_SERVER_CERT: tls.cert };
  const mint = async () => {
    const out = await runCli(["token", "create", "--ttl", "10m"], { env });
    expect(out.code, out.stderr).toBe(0);
    return out.stdout.split("\n")[0]!;
  };
  return { server, https, mint };
}

const nodes = async (https: string) =>
  (await rawRequest(`${https}/api/nodes`, { headers: { authorization: `Bearer ${ADMIN}` } })).json<NodeEntry[]>();

/** Lines the CLI printed as its own error (logs are JSON lines on stderr too). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));

describe("join strings", () => {
  it("token create prints one join string pinning the server's URL, key and certificate; agent --join joins with it and a restart keeps the pins", async () => {
    const { server, https, mint } = await tlsServer();
    const line = await mint();
    expect(line).toMatch(/^hj1\.[A-Za-z0-9_-]+$/);
    const j = decodeJoin(line) as RendezvousJoin;
    expect(j).toEqual({
      v: 1,
      kind: "rendezvous",
      url: `wss://127.0.0.1:${server.port}/crdt-sync`,
      nodeId: server.nodeId,
      token: expect.stringMatching(/^hj_/),
      fingerprint: tls.fingerprint,
    });
    const json = await runCli(["token", "create", "--json"], {
      env: { HUSKIES_SERVER: https, HUSKIES_ADMIN_TOKEN: ADMIN, HUSKIES_SERVER_FINGERPRINT: tls.fingerprint },
    });
    expect(JSON.parse(json.stdout)).toMatchObject({
      token: expect.stringMatching(/^hj_/),
      expiresAt: expect.any(Number),
      join: expect.stringMatching(/^hj1\./),
    });

    const root = project!.clone("b");
    const agent = await cluster.spawn("agent-b", ["agent", root, "--join", line, "--port", "0"]).ready();
    await waitFor(async () => (await nodes(https)).some((n) => n.id === agent.nodeId && n.alive), "the joined agent on the server");
    expect(JSON.parse(readFileSync(join(root, ".huskies", "rendezvous.json"), "utf8"))).toEqual({
      url: j.url,
      nodeId: server.nodeId,
      fingerprint: tls.fingerprint,
    });
    // An agent whose rendezvous is on loopback listens (and so advertises) on loopback only.
    expect(agent.logs.find((l) => l.msg === "huskies node listening")).toMatchObject({
      host: "127.0.0.1",
      address: `ws://127.0.0.1:${agent.port}/crdt-sync`,
    });

    await agent.stop();
    const again = await cluster.spawn("agent-b2", ["agent", root, "--port", "0"]).ready();
    expect(again.nodeId).toBe(agent.nodeId);
    await waitFor(
      async () => (await rawRequest(`${again.http}/health`)).json<{ rendezvous: { connected: boolean } }>().rendezvous.connected,
      "the restarted agent linked",
    );
  });

  it("refuses a server whose certificate or key is not the pinned one with one error line and exit 1, before using the token", async () => {
    const { server, https, mint } = await tlsServer();
    const good = decodeJoin(await mint()) as RendezvousJoin;

    const wrongCert = await runCli([
      "agent",
      project!.clone("c1"),
      "--port",
      "0",
      "--join",
      encodeJoin({ ...good, fingerprint: other.fingerprint }),
    ]);
    expect(wrongCert.code).toBe(1);
    expect(errorLines(wrongCert.stderr)).toEqual([
      `error: refusing ${good.url}: the server's certificate fingerprint ${tls.fingerprint} is not the pinned ${other.fingerprint}`,
    ]);

    const impostor = ephemeralIdentity().nodeId;
    const wrongKey = await runCli(["agent", project!.clone("c2"), "--port", "0", "--join", encodeJoin({ ...good, nodeId: impostor })]);
    expect(wrongKey.code).toBe(1);
    expect(errorLines(wrongKey.stderr)).toEqual([
      `error: refusing ${good.url}: node ${server.nodeId} answered, the join string pins ${impostor}`,
    ]);

    for (const [bad, why] of [
      ["hj1.@@@", "error: not a huskies join string: it is damaged (copy it whole, on one line)"],
      [
        "hj_sometoken",
        "error: not a huskies join string: it must start with hj1. (that is a bare join token: use --rendezvous URL --join-token TOKEN)",
      ],
      [
        encodeJoin({ ...good, url: "wss://127.0.0.1:1/elsewhere" } as RendezvousJoin),
        "error: not a usable join string: url: url must be a ws(s)://…/crdt-sync URL",
      ],
    ] as const) {
      const out = await runCli(["agent", project!.clone(`c-${bad.length}`), "--port", "0", "--join", bad]);
      expect([out.code, errorLines(out.stderr)], bad).toEqual([1, [why]]);
    }

    // Neither refused attempt presented the token: it still admits the rightful agent.
    const ok = await cluster.spawn("agent-ok", ["agent", project!.clone("ok"), "--port", "0", "--join", encodeJoin(good)]).ready();
    await waitFor(async () => (await nodes(https)).some((n) => n.id === ok.nodeId), "the agent with the untampered join string");
    expect(server.logs.filter((l) => /token/.test(String(l.reason)))).toEqual([]);
  });

  it("--rendezvous URL --join-token T still joins (the seed's form), and --join cannot be mixed with them", async () => {
    const { server, mint } = await tlsServer();
    const j = decodeJoin(await mint()) as RendezvousJoin;
    const mixed = await runCli(["agent", project!.clone("m"), "--join", encodeJoin(j), "--rendezvous", j.url]);
    expect([mixed.code, errorLines(mixed.stderr)]).toEqual([
      1,
      ["error: --join carries the rendezvous and the token: leave out --rendezvous, --join-token and --gateway-url"],
    ]);
    const neither = await runCli(["agent", project!.clone("n"), "--port", "0"]);
    expect([neither.code, errorLines(neither.stderr)]).toEqual([
      1,
      [
        "error: an agent needs a rendezvous: --join JOIN_STRING, or --rendezvous URL (a checkout that joined before reconnects without either)",
      ],
    ]);
    // The plain form over ws://: a second server without TLS.
    await server.stop();
    const plain = await cluster.server(project!.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const t = await rawRequest(`${plain.http}/api/tokens`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    });
    const { token, join: joinLine } = t.json<{ token: string; join: string }>();
    expect(decodeJoin(joinLine)).toMatchObject({ url: plain.ws, nodeId: plain.nodeId, token });
    const a = await cluster.agent(project!.clone("seed"), plain.ws, ["--join-token", token]);
    await waitFor(
      async () =>
        (await rawRequest(`${plain.http}/api/nodes`, { headers: { authorization: `Bearer ${ADMIN}` } }))
          .json<NodeEntry[]>()
          .some((n) => n.id === a.nodeId),
      "the seed-form agent",
    );
  });
});
