import pino from "pino";
import * as Y from "yjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GRANTEE_HEAD_START_MS } from "../../src/config/defaults.js";
import { createSyncPolicy } from "../../src/sync/auth-policy.js";
import { ephemeralIdentity } from "../../src/sync/identity.js";
import { memoryPair } from "../../src/sync/memory-transport.js";
import { SyncConnection } from "../../src/sync/sync-connection.js";
import { SyncHub } from "../../src/sync/sync-hub.js";

const log = pino({ level: "silent" });

/**
 * Let in-memory frames travel: the memory transport delivers on `setImmediate`, which the fake
 * timers below leave real, so this involves no clock at all.
 */
async function deliver(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

/** A rendezvous' hub with `n` peers linked over in-memory pairs; each peer records the keys it receives, in order. */
async function rendezvousWithPeers(n: number) {
  const doc = new Y.Doc();
  const hub = new SyncHub(doc, log);
  const serverId = ephemeralIdentity();
  const policy = createSyncPolicy({ role: "rendezvous", identity: serverId, open: true, doc, trustedKeys: () => [] });
  const peers = Array.from({ length: n }, () => {
    const identity = ephemeralIdentity();
    const peerDoc = new Y.Doc();
    const [acc, con] = memoryPair();
    const link = new SyncConnection(con, new SyncHub(peerDoc, log), { kind: "connect", identity }, { maxFrameBytes: 1 << 20 });
    new SyncConnection(acc, hub, { kind: "accept", gate: policy.gate(null), identity: serverId }, { maxFrameBytes: 1 << 20 });
    const seen: string[] = [];
    peerDoc.getMap("m").observe((ev) => seen.push(...ev.keysChanged));
    return { id: identity.nodeId, link, seen };
  });
  await deliver();
  expect(peers.every((p) => p.link.ready && hub.linkTo(p.id))).toBe(true);
  return { doc, hub, peers };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the grantee's head start", () => {
  it("sends a granting update to the grantee at once and to the other links after GRANTEE_HEAD_START_MS", async () => {
    const { doc, hub, peers } = await rendezvousWithPeers(3);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const [grantee, ...others] = peers;
    hub.deliverFirstTo([grantee!.id]);
    doc.getMap("m").set("grant", 1);
    await deliver();
    expect(grantee!.seen).toEqual(["grant"]);
    for (const o of others) expect(o.seen).toEqual([]);

    vi.advanceTimersByTime(GRANTEE_HEAD_START_MS);
    await deliver();
    for (const o of others) expect(o.seen).toEqual(["grant"]);

    // Only that one update: the next goes to everyone at once.
    doc.getMap("m").set("next", 2);
    await deliver();
    for (const p of peers) expect(p.seen).toEqual(["grant", "next"]);
  });

  it("a later update sends the held one first, so every link sees updates in order", async () => {
    const { doc, hub, peers } = await rendezvousWithPeers(2);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const [grantee, other] = peers;
    hub.deliverFirstTo([grantee!.id]);
    doc.getMap("m").set("grant", 1);
    doc.getMap("m").set("later", 2);
    await deliver();
    expect(other!.seen).toEqual(["grant", "later"]);
    expect(grantee!.seen).toEqual(["grant", "later"]);
    // The timer of the flushed update was cleared: nothing is sent twice.
    vi.advanceTimersByTime(GRANTEE_HEAD_START_MS);
    await deliver();
    expect(other!.seen).toEqual(["grant", "later"]);
  });
});
