import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ephemeralIdentity, type Identity } from "../../src/trust/identity.js";
import { ItemAuthority } from "../../src/trust/item-authority.js";
import { ForgeryRepair } from "../../src/rendezvous/forgery-repair.js";
import { OwnWriteReassert } from "../../src/trust/own-write-reassert.js";
import { holderTargets, mayWrite } from "../../src/trust/write-rights.js";
import { silent } from "../support/in-process.js";

const rendezvous = ephemeralIdentity();
const isOperator = (k: string) => k === rendezvous.nodeId;

/** A replica that signs as `id` and checks with the project's operator keys. */
function replica(id: Identity) {
  const authority = new ItemAuthority(id, isOperator);
  const pipeline = new PipelineDoc(new Y.Doc(), { log: silent, authority });
  return { id, authority, pipeline, claims: new Claims(pipeline) };
}

/** Every update of one replica applied to the others (a network with no partitions). */
function join(...rs: Array<ReturnType<typeof replica>>) {
  for (const r of rs)
    r.pipeline.doc.on("update", (u: Uint8Array, origin: unknown) => {
      if (origin === "net") return;
      for (const o of rs) if (o !== r) Y.applyUpdate(o.pipeline.doc, u, "net");
    });
}

function setup() {
  const r = replica(rendezvous);
  const a = replica(ephemeralIdentity());
  const m = replica(ephemeralIdentity()); // an admitted node that is not an operator
  join(r, a, m);
  return { r, a, m };
}

describe("signed writes (issue 27)", () => {
  it("an operator's item, its grant and the holder's moves verify everywhere", () => {
    const { r, a, m } = setup();
    const item = r.pipeline.createItem({ name: "Work", stage: "current" });
    r.claims.grant(item.id, a.id.nodeId);
    const token = a.claims.tokenOf(item.id, a.id.nodeId)!;
    expect(token).toBeDefined();
    expect(a.claims.moveAs(token, "qa", { actor: "coder" }, { branch: "feature/x" })).toBe(true);
    for (const x of [r, a, m]) {
      expect(x.pipeline.getItem(item.id)?.stage).toBe("qa");
      expect(x.pipeline.getItem(item.id)?.branch).toBe("feature/x");
      expect(x.authority.unverified).toBe(0);
    }
  });

  it("a non-operator's new item does not exist for anyone, and is counted", () => {
    const { r, a, m } = setup();
    m.pipeline.createItem({ name: "Run me", stage: "current" });
    const forged = { id: [...m.pipeline.items.keys()][0]! };
    expect(m.pipeline.getItem(forged.id)).toBeUndefined(); // not even for its writer
    expect(r.pipeline.getItem(forged.id)).toBeUndefined();
    expect(a.pipeline.listItemsIn(["current"])).toEqual([]);
    expect(a.authority.unverified).toBeGreaterThan(0);
    expect(r.authority.unverified).toBeGreaterThan(0);
  });

  it("plain writes to a done item's stage, claim or body are read at the last valid value", () => {
    const { r, a, m } = setup();
    const item = r.pipeline.createItem({ name: "Done", stage: "backlog", body: "safe" });
    r.claims.move(item.id, "archived", { actor: "system" });
    const raw = m.pipeline.items.get(item.id) as Y.Map<unknown>;
    m.pipeline.transact(() => {
      raw.set("stage", "current");
      raw.set("body", "rm -rf /");
      raw.set("claim", { node: a.id.nodeId, at: Date.now(), epoch: 9, stage: "current" });
    });
    for (const x of [r, a]) {
      const seen = x.pipeline.getItem(item.id)!;
      expect([seen.stage, seen.body, seen.claim]).toEqual(["archived", "safe", null]);
    }
    expect(a.pipeline.listItemsIn(["current"])).toEqual([]);
  });

  it("a claim written for another node, or a move of an item the writer does not hold, is ignored", () => {
    const { r, a, m } = setup();
    const item = r.pipeline.createItem({ name: "Open", stage: "current" });
    m.claims.grant(item.id, a.id.nodeId); // signed by m, naming a
    expect(a.pipeline.getItem(item.id)?.claim).toBeNull();
    r.claims.grant(item.id, a.id.nodeId);
    m.claims.move(item.id, "backlog", { actor: "operator" }); // m is no operator
    expect(a.pipeline.getItem(item.id)?.stage).toBe("current");
    expect(a.pipeline.getItem(item.id)?.claim?.node).toBe(a.id.nodeId);
    // Nor may m write as a holder with the claim a holds.
    const stolen = a.claims.tokenOf(item.id, a.id.nodeId)!;
    m.claims.moveAs(stolen, "qa", { actor: "coder" });
    expect(r.pipeline.getItem(item.id)?.stage).toBe("current");
  });

  it("a replayed older signed state is ignored, and so is a stale holder's write", () => {
    const { r, a, m } = setup();
    const b = replica(ephemeralIdentity());
    const item = r.pipeline.createItem({ name: "Twice", stage: "current" });
    r.claims.grant(item.id, a.id.nodeId);
    const old = a.claims.tokenOf(item.id, a.id.nodeId)!;
    const raw = r.pipeline.items.get(item.id) as Y.Map<unknown>;
    const snapshot = Object.fromEntries(["stage", "stageAt", "claim", "epoch", "logNode", "placeSig"].map((k) => [k, raw.get(k)]));
    r.claims.grant(item.id, b.id.nodeId); // reassigned: epoch 2
    const mine = m.pipeline.items.get(item.id) as Y.Map<unknown>;
    m.pipeline.transact(() => Object.entries(snapshot).forEach(([k, v]) => mine.set(k, v)));
    expect(a.pipeline.getItem(item.id)?.claim?.node).toBe(b.id.nodeId);
    // a still signs with its old grant: the claims module refuses locally, and a forced write is stale.
    expect(a.claims.moveAs(old, "qa", { actor: "coder" })).toBe(false);
    expect(r.pipeline.getItem(item.id)?.claim?.epoch).toBe(2);
  });

  it("the new holder's move is written from what it reads, not from a stale holder's refused write", () => {
    // No network: each update is handed over by hand, so a's stale write lands after b's grant.
    const r = replica(rendezvous);
    const a = replica(ephemeralIdentity());
    const b = replica(ephemeralIdentity());
    const send = (from: ReturnType<typeof replica>, ...to: Array<ReturnType<typeof replica>>) => {
      const update = Y.encodeStateAsUpdate(from.pipeline.doc);
      for (const x of to) Y.applyUpdate(x.pipeline.doc, update, "net");
    };
    // Concurrent writes to one key are ordered by client id: a's (the stale holder's) wins.
    [r.pipeline.doc.clientID, b.pipeline.doc.clientID, a.pipeline.doc.clientID] = [1, 2, 3];
    const item = r.pipeline.createItem({ name: "Frozen holder", stage: "current" });
    r.claims.grant(item.id, a.id.nodeId); // epoch 1
    send(r, a, b);
    const stale = a.claims.tokenOf(item.id, a.id.nodeId)!;
    // a is cut off (frozen); its claim lapses and b is granted (epoch 2).
    r.claims.grant(item.id, b.id.nodeId);
    send(r, b);
    // a wakes on its old replica and moves the item on as the holder it still thinks it is.
    expect(a.claims.moveAs(stale, "qa", { actor: "coder" })).toBe(true);
    send(a, r, b);
    const raw = b.pipeline.items.get(item.id) as Y.Map<unknown>;
    expect(raw.get("epoch")).toBe(1); // the document holds a's write…
    expect(b.pipeline.getItem(item.id)).toMatchObject({ stage: "current", epoch: 2 }); // …which b refuses
    const token = b.claims.tokenOf(item.id, b.id.nodeId)!;
    expect(b.claims.moveAs(token, "qa", { actor: "coder" })).toBe(true);
    send(b, r);
    for (const x of [b, r]) expect(x.pipeline.getItem(item.id)).toMatchObject({ stage: "qa", epoch: 2, claim: null });
    expect(b.claims.moveOnAs(token, "qa", "merge", { actor: "system", commitsAhead: 1 })).toBe(true);
    send(b, r);
    expect(r.pipeline.getItem(item.id)?.stage).toBe("merge");
  });

  it("the rendezvous does not put back a holder's move that arrived before an update it builds on", () => {
    const r = replica(rendezvous);
    const a = replica(ephemeralIdentity());
    // Concurrent writes to one key are ordered by client id: a put-back by r would win.
    [a.pipeline.doc.clientID, r.pipeline.doc.clientID] = [1, 2];
    const queued: Array<() => void> = [];
    new ForgeryRepair(r.claims, r.authority, silent, (fn) => queued.push(fn)).start();
    const item = r.pipeline.createItem({ name: "Moved on", stage: "current" });
    r.claims.grant(item.id, a.id.nodeId);
    Y.applyUpdate(a.pipeline.doc, Y.encodeStateAsUpdate(r.pipeline.doc), "net");
    const updates: Uint8Array[] = [];
    a.pipeline.doc.on("update", (u: Uint8Array, origin: unknown) => origin !== "net" && updates.push(u));
    a.claims.request(item.id, a.id.nodeId); // any earlier write of a's
    expect(a.claims.moveAs(a.claims.tokenOf(item.id, a.id.nodeId)!, "qa", { actor: "coder" })).toBe(true);
    // The move arrives first: Yjs holds it back but deletes the values it replaces at once.
    Y.applyUpdate(r.pipeline.doc, updates[1]!, "net");
    expect(r.pipeline.getItem(item.id)?.stage).toBe("current"); // read at the last valid value
    while (queued.length) queued.shift()!();
    Y.applyUpdate(r.pipeline.doc, updates[0]!, "net");
    while (queued.length) queued.shift()!();
    expect(r.pipeline.getItem(item.id)?.stage).toBe("qa");
  });

  it("a holder's move that lost the CRDT's tie-break to the rendezvous' put-back is written back, and the replicas agree", () => {
    const r = replica(rendezvous);
    const h = replica(ephemeralIdentity()); // the new holder
    const s = replica(ephemeralIdentity()); // the holder that was stopped
    [h.pipeline.doc.clientID, s.pipeline.doc.clientID, r.pipeline.doc.clientID] = [1, 3, 2];
    const queued: Array<() => void> = [];
    const defer = (fn: () => void) => queued.push(fn);
    const flush = () => {
      while (queued.length) queued.shift()!();
    };
    new ForgeryRepair(r.claims, r.authority, silent, defer).start();
    for (const x of [r, h, s]) new OwnWriteReassert(x.claims, x.authority, silent, defer).start();
    const send = (from: ReturnType<typeof replica>, to: ReturnType<typeof replica>) =>
      Y.applyUpdate(to.pipeline.doc, Y.encodeStateAsUpdate(from.pipeline.doc, Y.encodeStateVector(to.pipeline.doc)), "net");
    const item = r.pipeline.createItem({ name: "Raced", stage: "current" });
    r.claims.grant(item.id, s.id.nodeId); // epoch 1
    send(r, s);
    r.claims.grant(item.id, h.id.nodeId); // s stopped, its claim lapsed: epoch 2
    send(r, h);
    expect(h.claims.moveAs(h.claims.tokenOf(item.id, h.id.nodeId)!, "qa", { actor: "coder" })).toBe(true);
    // s moves on twice (server QA), so its writes count more revs than the grant it missed.
    const stale = s.claims.tokenOf(item.id, s.id.nodeId)!;
    expect(s.claims.moveAs(stale, "qa", { actor: "coder" })).toBe(true);
    expect(s.claims.moveOnAs(stale, "qa", "merge", { actor: "system", commitsAhead: 1 })).toBe(true);
    // s's late write reaches the rendezvous first: refused (stale), the grant is put back.
    send(s, r);
    flush();
    expect(r.pipeline.getItem(item.id)).toMatchObject({ stage: "current", epoch: 2 });
    // Then h's move, concurrent with the put-back, which the tie-break lets win.
    send(h, r);
    send(r, h);
    send(r, s);
    flush();
    for (const x of [r, h, s]) {
      send(x, r);
      send(r, h);
      send(r, s);
      flush();
    }
    for (const x of [r, h, s]) expect(x.pipeline.getItem(item.id)).toMatchObject({ stage: "qa", epoch: 2, claim: null });
  });

  it("a node may grant only itself without the rendezvous (autonomous)", () => {
    const { r, a, m } = setup();
    const item = r.pipeline.createItem({ name: "Offline", stage: "current" });
    a.claims.grant(item.id, a.id.nodeId);
    expect(m.pipeline.getItem(item.id)?.claim?.node).toBe(a.id.nodeId);
    const other = r.pipeline.createItem({ name: "Not yours", stage: "done" });
    m.claims.grant(other.id, m.id.nodeId); // a self-grant cannot move an item out of done
    expect(r.pipeline.getItem(other.id)?.claim).toBeNull();
  });

  it("the rights table: holders move only as the transition table lets their role", () => {
    expect(holderTargets("current").sort()).toEqual(["merge", "qa"]);
    expect(holderTargets("qa").sort()).toEqual(["current", "merge"]);
    expect(holderTargets("merge").sort()).toEqual(["current", "done"]);
    expect(holderTargets("done")).toEqual([]);
    const held = { node: "a".repeat(64), at: 1, epoch: 3, stage: "current" as const, by: "f".repeat(64), sig: "" };
    const ops = (k: string) => k === "f".repeat(64);
    expect(mayWrite("item", held.node, {}, held, ops, { maxEpoch: 3 }).ok).toBe(false);
    expect(mayWrite("place", held.node, { stage: "done", claim: null, epoch: 3 }, held, ops, { maxEpoch: 3 }).ok).toBe(false);
    expect(mayWrite("place", held.node, { stage: "qa", claim: null, epoch: 3 }, held, ops, { maxEpoch: 3 }).ok).toBe(true);
    expect(mayWrite("work", held.node, {}, held, ops, { maxEpoch: 4 }).ok).toBe(false);
  });
});
