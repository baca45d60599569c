import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import pino from "pino";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { createSyncPolicy } from "../../src/trust/auth-policy.js";
import { Backoff } from "../../src/sync/backoff.js";
import { HealProbe, probeDecision, tcpProbe } from "../../src/sync/heal-probe.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { SyncClient } from "../../src/sync/sync-client.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { attachSyncServer } from "../../src/sync/sync-server.js";
import { waitFor } from "../support/wait-for.js";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(server: Server | ReturnType<typeof createHttpServer>, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

describe("faster heal: probing the rendezvous during backoff", () => {
  it("reconnects only on a down→up edge", () => {
    expect(probeDecision({ armed: false }, true)).toEqual({ state: { armed: false }, reconnect: false });
    expect(probeDecision({ armed: false }, false)).toEqual({ state: { armed: true }, reconnect: false });
    expect(probeDecision({ armed: true }, false)).toEqual({ state: { armed: true }, reconnect: false });
    expect(probeDecision({ armed: true }, true)).toEqual({ state: { armed: false }, reconnect: true });
  });

  it("a server that stays up never triggers early attempts (no retry storm); one that comes back does, once", async () => {
    let calls = 0;
    let ups = 0;
    const alwaysUp = new HealProbe(
      async () => {
        calls += 1;
        return true;
      },
      () => {
        ups += 1;
      },
      5,
    );
    alwaysUp.start(false);
    cleanups.push(() => alwaysUp.stop());
    await waitFor(() => calls >= 10, "ten probes");
    expect(ups).toBe(0);

    const results = [false, false, true, true];
    let i = 0;
    let back = 0;
    const returning = new HealProbe(
      async () => results[Math.min(i++, results.length - 1)]!,
      () => {
        back += 1;
      },
      5,
    );
    returning.start(false);
    cleanups.push(() => returning.stop());
    await waitFor(() => back === 1, "the up edge");
    expect(i).toBe(3);
  });

  it("the TCP probe counts a connection reset at once (a proxy with nothing behind it) as down", async () => {
    const resetting = createServer((s) => s.destroy());
    const holding = createServer(() => {});
    cleanups.push(() => {
      resetting.close();
      holding.close();
    });
    const [rp, hp] = await Promise.all([listen(resetting), listen(holding)]);
    expect(await tcpProbe("127.0.0.1", rp, 100, 1000)()).toBe(false);
    expect(await tcpProbe("127.0.0.1", hp, 100, 1000)()).toBe(true);
  });

  it("an upstream link in a long backoff reconnects as soon as the server is back, long before its backoff ends", async () => {
    // A free port with nothing on it yet.
    const probePort = createServer();
    const port = await listen(probePort);
    await new Promise((resolve) => probePort.close(resolve));

    const log = pino({ level: "silent" });
    const hub = new SyncHub(new Y.Doc(), log);
    // Every retry waits 10–20 s: only the probe can bring it back quickly.
    const client = new SyncClient({
      url: `ws://127.0.0.1:${port}/crdt-sync`,
      hub,
      identity: ephemeralIdentity(),
      maxFrameBytes: 1 << 20,
      backoff: new Backoff(20_000, 30_000),
      upstream: true,
    }).start();
    cleanups.push(() => client.stop());
    await waitFor(() => !client.connected && (client as unknown as { timer?: unknown }).timer !== undefined, "the client to be in backoff");

    const serverDoc = new Y.Doc();
    serverDoc.getMap("items").set("back", true);
    const http = createHttpServer();
    const identity = ephemeralIdentity();
    const serverHub = new SyncHub(serverDoc, log);
    attachSyncServer(http, serverHub, {
      policy: createSyncPolicy({ role: "rendezvous", identity, open: true, doc: serverDoc, trustedKeys: () => [] }),
      maxFrameBytes: 1 << 20,
    });
    await listen(http, port);
    const startedAt = Date.now();
    // Cleanups run last-first: links (upgraded sockets the http server no longer tracks) before the server.
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    cleanups.push(() => serverHub.closeAll());
    await waitFor(() => client.connected, "the client to reconnect", 8000, 20);
    // The backoff alone would wait at least 10 s.
    expect(Date.now() - startedAt).toBeLessThan(5000);
    await waitFor(() => hub.doc.getMap("items").get("back") === true, "the document to sync");
  });
});
