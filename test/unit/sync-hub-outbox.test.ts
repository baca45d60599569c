import pino from "pino";
import * as Y from "yjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GRANTEE_HEAD_START_MS } from "../../src/config/defaults.js";
import { createSyncPolicy } from "../../src/trust/auth-policy.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { memoryPair } from "../../src/sync/memory-transport.js";
import { SyncConnection } from "../../src/sync/sync-connection.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { MemoryStore } from "../../src/state/memory-store.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { Replica } from "../../src/state/replica.js";
import { Claims } from "../../src/state/claims.js";

const log = pino({ level: "silent" });

/**
 * Let in-memory frames travel: the memory transport delivers on `setImmediate`, which the fake
 * timers below leave real, so this involves no clock at all.
 */
async function deliver(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

/** A rendezvous' hub with `n` peers linked over in-memory pairs; each peer records the keys it receives, in order. */
async function rendezvousWithPeers(n: number, central?: { replica: Replica; lazyBatchMs: number }) {
  const doc = central?.replica.doc ?? new Y.Doc();
  const hub = new SyncHub(doc, log, central?.replica, { lazyBatchMs: () => central?.lazyBatchMs ?? 0 });
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
    /** Updates received from the rendezvous: one per frame. */
    const frames: Uint8Array[] = [];
    peerDoc.on("update", (u: Uint8Array, origin: unknown) => {
      if (origin === link) frames.push(u);
    });
    return { id: identity.nodeId, link, seen, frames, pipeline: new PipelineDoc(peerDoc) };
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

describe("relayed lazy updates", () => {
  it("wait up to lazyBatchMs and reach each link as one frame; the next urgent update takes them along", async () => {
    const replica = new Replica(new MemoryStore());
    const { peers } = await rendezvousWithPeers(4, { replica, lazyBatchMs: 1000 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const [a, b, c, observer] = peers;
    const beaters = [a!, b!, c!];
    for (const p of peers) p.frames.length = 0;
    beaters.forEach((p, i) => p.pipeline.setOwnNode(p.id, { lastSeen: i + 1, alive: true }));
    await deliver();
    // Persisted at the rendezvous at once (it holds all three), relayed to nobody yet.
    expect(replica.pipeline.nodes.size).toBe(3);
    expect(observer!.frames).toEqual([]);
    expect(a!.frames).toEqual([]);

    vi.advanceTimersByTime(999);
    await deliver();
    expect(observer!.frames).toEqual([]);
    vi.advanceTimersByTime(1);
    await deliver();
    // The three heartbeats in one frame for the observer; each beater gets the two others' as frames.
    expect(observer!.frames).toHaveLength(1);
    expect(observer!.pipeline.nodes.size).toBe(3);
    expect(a!.frames).toHaveLength(2);
    expect(a!.pipeline.nodes.has(c!.id)).toBe(true);

    // Heartbeats waiting when an item is written go out with it, at once, in order.
    for (const p of peers) p.frames.length = 0;
    a!.pipeline.setOwnNode(a!.id, { lastSeen: 10 });
    b!.pipeline.setOwnNode(b!.id, { lastSeen: 20 });
    await deliver();
    expect(observer!.frames).toEqual([]);
    replica.doc.getMap("m").set("story", 1);
    await deliver();
    expect(observer!.frames).toHaveLength(1);
    expect(observer!.seen).toEqual(["story"]);
    expect((observer!.pipeline.nodes.get(b!.id) as Y.Map<unknown>).get("lastSeen")).toBe(20);
    // Nothing is left to send when the timer fires.
    vi.advanceTimersByTime(1000);
    await deliver();
    expect(observer!.frames).toHaveLength(1);
    replica.close();
  });

  it("a node's own entry and everything else are never held", async () => {
    const replica = new Replica(new MemoryStore());
    const { peers } = await rendezvousWithPeers(2, { replica, lazyBatchMs: 1000 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const [a, observer] = peers;
    for (const p of peers) p.frames.length = 0;
    replica.pipeline.setOwnNode("rendezvous-node", { lastSeen: 5, alive: true });
    await deliver();
    expect(observer!.frames).toHaveLength(1);
    expect(a!.frames).toHaveLength(1);
    a!.link.hub.doc.getMap("items").set("x", new Y.Map());
    await deliver();
    expect(observer!.frames).toHaveLength(2);
    replica.close();
  });

  it("claim requests reach the rendezvous first-hand and the other peers lazily; the grant goes at once", async () => {
    const replica = new Replica(new MemoryStore());
    const { peers } = await rendezvousWithPeers(2, { replica, lazyBatchMs: 1000 });
    const item = replica.pipeline.createItem({ name: "Queued", stage: "backlog" });
    await deliver();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const [asker, observer] = peers;
    for (const p of peers) p.frames.length = 0;
    new Claims(asker!.pipeline).request(item.id, asker!.id, 1);
    await deliver();
    expect(replica.pipeline.getItem(item.id)?.requests).toEqual({ [asker!.id]: 1 });
    expect(observer!.frames).toEqual([]);
    new Claims(replica.pipeline).grant(item.id, asker!.id);
    await deliver();
    expect(observer!.pipeline.getItem(item.id)?.claim?.node).toBe(asker!.id);
    expect(asker!.pipeline.getItem(item.id)?.claim?.node).toBe(asker!.id);
    replica.close();
  });
});
