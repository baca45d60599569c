import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import * as Y from "yjs";
import { Cluster, runCli, type NodeProc } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DocClient } from "../support/doc-client.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { selfSignedCert } from "../support/tls-cert.js";
import { waitFor } from "../support/wait-for.js";
import { decodeJoin, encodeJoin, type RendezvousJoin } from "../../src/trust/join-string.js";
import { pinnedRequest } from "../../src/trust/pinned-request.js";
import { decodeFrame, encodeAuth, encodeUpdate } from "../../src/sync/sync-message.js";
import { PROTOCOL } from "../../src/version.js";

const ADMIN = "handshake-admin-token";
const cluster = new Cluster();
let project: Project | undefined;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster.stopAll();
  project?.cleanup();
});

/** A fresh join string from `server` (over https, pinned by `fingerprint`). */
async function joinString(server: NodeProc, fingerprint?: string): Promise<RendezvousJoin> {
  const scheme = fingerprint ? "https" : "http";
  const res = await pinnedRequest<{ join: string }>(`${scheme}://127.0.0.1:${server.port}/api/tokens`, {
    method: "POST",
    body: { ttlSecs: 600 },
    headers: { authorization: `Bearer ${ADMIN}` },
    fingerprint,
  });
  return decodeJoin(res.body.join) as RendezvousJoin;
}

function listen(server: HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

describe("the sync handshake (issue 27)", () => {
  it("over ws://, an impostor that claims the pinned rendezvous id receives no join token; the token still works", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const join = await joinString(server);
    expect(join.token).toBeTruthy();

    // The impostor: says it is the rendezvous (its id), cannot sign as it.
    const received: Buffer[] = [];
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http });
    wss.on("connection", (ws) => {
      ws.send(encodeAuth({ type: "challenge", v: 2, nodeId: join.nodeId, challenge: randomBytes(32).toString("hex"), protocol: PROTOCOL }));
      ws.on("message", (data: Buffer) => {
        received.push(Buffer.from(data));
        const frame = decodeFrame(new Uint8Array(data));
        if (frame.kind === "auth" && frame.frame.type === "answer") {
          // Claims a pending welcome, hoping for the token.
          ws.send(
            encodeAuth({
              type: "welcome",
              nodeId: join.nodeId,
              signature: randomBytes(64).toString("hex"),
              pending: true,
              protocol: PROTOCOL,
            }),
          );
        }
      });
    });
    const port = await listen(http);
    cleanups.push(() => {
      wss.close();
      http.close();
    });

    const redirected = encodeJoin({ ...join, url: `ws://127.0.0.1:${port}/crdt-sync` });
    const agent = cluster.spawn("victim", ["agent", project.clone("victim"), "--join", redirected, "--port", "0"]);
    await waitFor(() => received.length >= 2, "the agent to answer the impostor twice (it retries)", 30_000);
    await waitFor(() => agent.logs.some((l) => /bad welcome signature/.test(String(l.reason))), "the agent to refuse the welcome");
    expect(Buffer.concat(received).includes(Buffer.from(join.token!))).toBe(false);
    await agent.stop();

    // The token was never spent: the real server admits a new agent with it.
    const real = await cluster.agent(project.clone("real"), server.ws, ["--join-token", join.token!]);
    await waitFor(async () => (await real.health()).rendezvous.connected, "the agent admitted with the unspent token");
  });

  it("over TLS, a relay with the server's own certificate cannot link: the handshake is bound to the channel, and its update is not applied", async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), "huskies-relay-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const tls = selfSignedCert(dir, "rendezvous");
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent", "--tls-cert", tls.cert, "--tls-key", tls.key], {
      HUSKIES_ADMIN_TOKEN: ADMIN,
    });
    const join = await joinString(server, tls.fingerprint);

    // The relay terminates TLS with the same certificate (a stolen key file, or the same proxy
    // in front of both), forwards every frame, and injects an update of its own.
    const https = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) });
    const wss = new WebSocketServer({ server: https });
    let forwarded = 0;
    const injected = "9999_story_injected_by_relay";
    wss.on("connection", (client) => {
      const upstream = new WebSocket(`wss://127.0.0.1:${server.port}/crdt-sync`, { rejectUnauthorized: false });
      const queue: Buffer[] = [];
      upstream.on("open", () => queue.splice(0).forEach((m) => upstream.send(m)));
      upstream.on("message", (m: Buffer) => client.readyState === WebSocket.OPEN && client.send(m));
      upstream.on("close", (code, reason) => client.readyState === WebSocket.OPEN && client.close(code, reason.toString()));
      client.on("message", (m: Buffer) => {
        forwarded += 1;
        if (upstream.readyState === WebSocket.OPEN) upstream.send(m);
        else queue.push(m);
        // Right after the answer, the relay's own update.
        const doc = new Y.Doc();
        doc.getMap("items").set(injected, new Y.Map());
        setTimeout(() => upstream.readyState === WebSocket.OPEN && upstream.send(encodeUpdate(Y.encodeStateAsUpdate(doc))), 50);
      });
      client.on("close", () => upstream.close());
    });
    const port = await listen(https as unknown as HttpServer);
    cleanups.push(() => {
      wss.close();
      https.close();
    });

    const agent = cluster.spawn("pinned", [
      "agent",
      project.clone("pinned"),
      "--join",
      encodeJoin({ ...join, url: `wss://127.0.0.1:${port}/crdt-sync` }),
      "--port",
      "0",
    ]);
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && /not over this TLS channel/.test(String(l.reason))),
      "the rendezvous to refuse the relayed answer",
      30_000,
    );
    expect(forwarded).toBeGreaterThan(0);
    await agent.ready();
    expect((await agent.health()).rendezvous.connected).toBe(false);

    // Nothing of the relay's reached the rendezvous' replica.
    const reader = new DocClient();
    cleanups.push(() => reader.close());
    const readerJoin = await joinString(server, tls.fingerprint);
    await reader.link(`wss://127.0.0.1:${server.port}/crdt-sync`, {
      joinToken: readerJoin.token,
      pin: { fingerprint256: tls.fingerprint },
    } as never);
    expect(reader.doc.getMap("items").has(injected)).toBe(false);
    // And the same agent, told the real address, links: the relay was the only problem.
    await agent.stop();
    const direct = await cluster.spawn("direct", ["agent", project.clone("direct"), "--join", encodeJoin(join), "--port", "0"]).ready();
    await waitFor(async () => (await direct.health()).rendezvous.connected, "the direct link");
  });

  it("plain ws:// to another host is refused by default, before anything is sent", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing is sent (refused before dialing).
    const res = await runCli(["agent", project.clone("far"), "--rendezvous", "ws://192.0.2.10:3001/crdt-sync", "--port", "0"], {
      env: { HUSKIES_LOG_FORMAT: "json" },
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/plain ws:\/\/ to another host is refused/);
  });
});
