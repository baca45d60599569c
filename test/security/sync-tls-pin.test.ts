import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import * as Y from "yjs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSyncPolicy } from "../../src/trust/auth-policy.js";
import { ephemeralIdentity, type Identity } from "../../src/trust/identity.js";
import { SyncClient } from "../../src/sync/sync-client.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { attachSyncServer } from "../../src/sync/sync-server.js";
import { waitFor } from "../support/wait-for.js";

let dir: string;
let cert: string;
let key: string;
let fingerprint: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "huskies-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
    ],
    { stdio: "ignore" },
  );
  cert = readFileSync(join(dir, "cert.pem"), "utf8");
  key = readFileSync(join(dir, "key.pem"), "utf8");
  fingerprint = new X509Certificate(cert).fingerprint256;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A rendezvous on https/wss with a self-signed certificate; records upgrade URLs and answers seen. */
async function tlsServer(): Promise<{ url: string; identity: Identity; doc: Y.Doc; upgrades: string[]; answers: () => number }> {
  const server: Server = createServer({ cert, key });
  const identity = ephemeralIdentity();
  const doc = new Y.Doc();
  doc.getMap("items").set("secret", "story text");
  const hub = new SyncHub(doc, pino({ level: "silent" }));
  const policy = createSyncPolicy({ role: "rendezvous", identity, open: true, doc, trustedKeys: () => [] });
  let answers = 0;
  const gate = policy.gate.bind(policy);
  policy.gate = (bearer) => {
    const g = gate(bearer);
    return {
      ...g,
      admit: (claims) => {
        answers += 1;
        return g.admit(claims);
      },
    };
  };
  const upgrades: string[] = [];
  server.on("upgrade", (req) => upgrades.push(req.url ?? ""));
  attachSyncServer(server, hub, { policy, maxFrameBytes: 1 << 20 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => hub.closeAll());
  const port = (server.address() as { port: number }).port;
  return { url: `wss://127.0.0.1:${port}/crdt-sync`, identity, doc, upgrades, answers: () => answers };
}

function client(url: string, pin: { fingerprint256?: string; nodeId?: string }): { c: SyncClient; doc: Y.Doc; failures: Error[] } {
  const doc = new Y.Doc();
  const failures: Error[] = [];
  const c = new SyncClient({
    url,
    hub: new SyncHub(doc, pino({ level: "silent" })),
    identity: ephemeralIdentity(),
    maxFrameBytes: 1 << 20,
    token: "bearer-secret",
    upstream: true,
    pin,
  });
  c.on("failed", (err) => failures.push(err));
  cleanups.push(() => c.stop());
  c.start();
  return { c, doc, failures };
}

describe("TLS pinning (join strings)", () => {
  it("syncs with a self-signed server whose fingerprint and key match the pin, without a bearer in the URL", async () => {
    const s = await tlsServer();
    const { c, doc } = client(s.url, { fingerprint256: fingerprint, nodeId: s.identity.nodeId });
    await waitFor(() => doc.getMap("items").get("secret") === "story text", "the pinned link to sync");
    expect(c.peerId).toBe(s.identity.nodeId);
    expect(s.upgrades.every((u) => !u.includes("token"))).toBe(true);
  });

  it("refuses another certificate before any frame, once, as a permanent failure", async () => {
    const s = await tlsServer();
    const wrong = fingerprint.replace(/^../, fingerprint.startsWith("00") ? "11" : "00");
    const { c, doc, failures } = client(s.url, { fingerprint256: wrong, nodeId: s.identity.nodeId });
    await waitFor(() => failures.length === 1, "the failure");
    expect(failures[0]!.message).toMatch(/fingerprint .* is not the pinned/);
    expect(s.answers()).toBe(0);
    expect(doc.getMap("items").size).toBe(0);
    expect(c.connected).toBe(false);
    expect(s.upgrades).toHaveLength(1);
    expect((c as unknown as { stopped: boolean }).stopped).toBe(true);
  });

  it("refuses a server whose welcome comes from another key than the pinned node id", async () => {
    const s = await tlsServer();
    const { doc, failures } = client(s.url, { fingerprint256: fingerprint, nodeId: ephemeralIdentity().nodeId });
    await waitFor(() => failures.length === 1, "the failure");
    expect(failures[0]!.message).toMatch(/answered, the join string pins/);
    expect(s.answers()).toBe(0);
    expect(doc.getMap("items").size).toBe(0);
    expect(s.upgrades).toHaveLength(1);
  });
});
