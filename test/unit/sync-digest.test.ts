import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { documentDigest } from "../../src/state/digest.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";

function clone(doc: Y.Doc): Y.Doc {
  const c = new Y.Doc();
  Y.applyUpdate(c, Y.encodeStateAsUpdate(doc));
  return c;
}

describe("documentDigest", () => {
  it("changes when an item is deleted or a map key cleared, though the state vector barely moves", () => {
    const p = new PipelineDoc(new Y.Doc());
    const a = p.createItem({ name: "Keep" });
    const b = p.createItem({ name: "Drop" });
    p.update(a.id, { blocked: "waiting" });
    const before = documentDigest(p.doc);
    p.deleteItem(b.id);
    const afterDelete = documentDigest(p.doc);
    expect(afterDelete).not.toBe(before);
    p.items.get(a.id)!.delete("blocked");
    expect(documentDigest(p.doc)).not.toBe(afterDelete);
    expect(before).toMatch(/^[0-9a-f]{16}$/);
  });

  it("is equal for replicas that received the same updates in different orders", () => {
    const origin = new Y.Doc();
    const updates: Uint8Array[] = [];
    origin.on("update", (u: Uint8Array) => updates.push(u));
    const other = clone(origin);
    other.on("update", (u: Uint8Array) => updates.push(u));
    const items = origin.getMap("items");
    for (let i = 0; i < 20; i++) items.set(`k${i}`, i);
    items.delete("k3");
    other.getMap("items").set("theirs", true);
    other.getMap("items").delete("theirs");
    items.delete("k7");

    const forward = new Y.Doc({ gc: true });
    for (const u of updates) Y.applyUpdate(forward, u);
    const backward = new Y.Doc({ gc: false });
    for (const u of [...updates].reverse()) Y.applyUpdate(backward, u);
    const merged = new Y.Doc();
    Y.applyUpdate(merged, Y.mergeUpdates(updates));
    expect(documentDigest(backward)).toBe(documentDigest(forward));
    expect(documentDigest(merged)).toBe(documentDigest(forward));
    expect(forward.getMap("items").toJSON()).toEqual(backward.getMap("items").toJSON());
  });
});
