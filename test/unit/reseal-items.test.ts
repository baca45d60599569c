import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { resealItems } from "../../src/backup/reseal-items.js";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { ItemAuthority } from "../../src/trust/item-authority.js";

describe("a recovered rendezvous signs the lost one's items again", () => {
  it("makes every valid item, with its claim, read the same under the new key alone; forged values stay out", () => {
    const lost = ephemeralIdentity();
    const next = ephemeralIdentity();
    const agent = ephemeralIdentity();
    const doc = new Y.Doc();
    const old = new PipelineDoc(doc, { authority: new ItemAuthority(lost, (k) => k === lost.nodeId) });
    const a = old.createItem({ name: "Worked", stage: "current" }, 1_000);
    const b = old.createItem({ name: "Waiting", stage: "backlog" }, 2_000);
    new Claims(old).grant(a.id, agent.nodeId, 3_000);
    // A forger rewrites b's name without a signature: the lost key never signed it.
    doc.transact(() => (doc.getMap("items").get(b.id) as Y.Map<unknown>).set("name", "Forged"));
    const before = [old.getItem(a.id), old.getItem(b.id)];
    expect(before[1]!.name).toBe("Waiting");

    // Under the new key alone, nothing the lost key signed counts.
    const onlyNext = (d: Y.Doc) => new PipelineDoc(d, { authority: new ItemAuthority(ephemeralIdentity(), (k) => k === next.nodeId) });
    expect(onlyNext(doc).listItems()).toEqual([]);

    const both = new ItemAuthority(next, (k) => k === next.nodeId || k === lost.nodeId);
    const recovering = new PipelineDoc(doc, { authority: both });
    expect(resealItems(recovering, both, lost.nodeId)).toBe(2);

    const after = onlyNext(doc);
    expect(after.getItem(a.id)).toMatchObject({
      name: "Worked",
      stage: "current",
      claim: { node: agent.nodeId, epoch: before[0]!.epoch },
    });
    // b's item group as stored does not verify (the forged name), so it is not signed again: the
    // forgery is never laundered into the new key's name (the recovery counts it in the replica).
    expect(after.getItem(b.id)?.name).not.toBe("Forged");
  });
});
