import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ephemeralIdentity, type Identity } from "../../src/trust/identity.js";
import { ItemAuthority } from "../../src/trust/item-authority.js";
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
