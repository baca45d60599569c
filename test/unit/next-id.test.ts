import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { ITEM_NUMBER_LIMIT, isItemNumber, nextId } from "../../src/pipeline/next-id.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";

describe("nextId (the item counter's rule)", () => {
  it("counts on from a valid counter, or from the items present when they are ahead of it", () => {
    expect(nextId(undefined, 0)).toEqual({ next: 1 });
    expect(nextId(7, 3)).toEqual({ next: 8 });
    expect(nextId(2, 9)).toEqual({ next: 10 });
    expect(nextId(0, 0)).toEqual({ next: 1 });
    expect(nextId(ITEM_NUMBER_LIMIT - 2, 0)).toEqual({ next: ITEM_NUMBER_LIMIT - 1 });
  });

  it("treats anything but an integer below 2^31 as malformed and derives the number from the items present", () => {
    for (const bad of [2 ** 53, 1e21, 2 ** 31, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "12", null, { n: 1 }]) {
      const r = nextId(bad, 41);
      expect(r.next, String(bad)).toBe(42);
      expect(r.malformed, String(bad)).toMatch(/lastNumber .* is not an integer from 0 below 2\^31/);
    }
    expect(nextId(2 ** 53, 0).malformed).toBe("lastNumber 9007199254740992 is not an integer from 0 below 2^31");
  });

  it("refuses (throws) rather than loop when numbers are exhausted", () => {
    expect(() => nextId(ITEM_NUMBER_LIMIT - 1, 0)).toThrow(RangeError);
    expect(() => nextId(0, ITEM_NUMBER_LIMIT - 1)).toThrow(/exhausted/);
    expect(isItemNumber(ITEM_NUMBER_LIMIT - 1)).toBe(true);
    expect(isItemNumber(ITEM_NUMBER_LIMIT)).toBe(false);
  });
});

describe("PipelineDoc numbering", () => {
  it("never reuses a number of an item present, whatever the counter says", () => {
    const p = new PipelineDoc(new Y.Doc());
    p.meta.set("lastNumber", 2 ** 53);
    const a = p.createItem({ name: "same" });
    const b = p.createItem({ name: "same" });
    expect([a.id, b.id]).toEqual(["1_story_same", "2_story_same"]);
    expect(p.malformedCount).toBe(1);
    expect(p.meta.get("lastNumber")).toBe(2);

    // A replica whose counter went back (its history lost) still numbers above what it holds.
    p.meta.set("lastNumber", 0);
    expect(p.createItem({ name: "third" }).id).toBe("3_story_third");
    p.meta.set("lastNumber", 1e21);
    expect(p.createItem({ name: "fourth" }).id).toBe("4_story_fourth");
  });

  it("counts items that arrive from other replicas", () => {
    const a = new PipelineDoc(new Y.Doc());
    const b = new PipelineDoc(new Y.Doc());
    a.createItems([{ name: "x" }, { name: "y" }, { name: "z" }]);
    // The counter is deleted on b afterwards: only the items say how far numbering got.
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc));
    b.meta.delete("lastNumber");
    expect(b.createItem({ name: "w" }).id).toBe("4_story_w");
  });
});
