import { describe, expect, it } from "vitest";
import { spread } from "../support/spread-sequencer.js";

describe("the suite's order: heavy files spaced through the queue", () => {
  it("puts the first heavy file first and the rest at even intervals, keeping both orders", () => {
    const light = Array.from({ length: 9 }, (_, i) => `l${i}`);
    const out = spread(light, ["H0", "H1", "H2"]);
    expect(out).toHaveLength(12);
    expect(out.filter((f) => f.startsWith("l"))).toEqual(light);
    expect(["H0", "H1", "H2"].map((h) => out.indexOf(h))).toEqual([0, 4, 8]);
  });
  it("copes with no heavy files and with more heavy than light ones", () => {
    expect(spread(["a", "b"], [])).toEqual(["a", "b"]);
    const crowded = spread(["a"], ["H0", "H1", "H2"]);
    expect(crowded[0]).toBe("H0");
    expect([...crowded].sort()).toEqual(["H0", "H1", "H2", "a"]);
  });
});
