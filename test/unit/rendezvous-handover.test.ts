import { describe, expect, it } from "vitest";
import { checkHandover, signHandover } from "../../src/trust/rendezvous-handover.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";

describe("the rendezvous handover record (an operator key vouches for a recovered rendezvous)", () => {
  const operator = ephemeralIdentity();
  const lost = ephemeralIdentity();
  const next = ephemeralIdentity();
  const ctx = { pinned: lost.nodeId, answered: next.nodeId, operatorKeys: [operator.nodeId] };

  it("lets a node pinned to the lost key follow the new one when an operator key signed exactly that", () => {
    const h = signHandover(operator, lost.nodeId, next.nodeId, 1_000);
    expect(checkHandover(h, ctx)).toEqual({ ok: true, handover: h });
    // It survives a trip through JSON (it travels in a frame).
    expect(checkHandover(JSON.parse(JSON.stringify(h)), ctx).ok).toBe(true);
  });

  it("refuses every other record", () => {
    const good = signHandover(operator, lost.nodeId, next.nodeId, 1_000);
    const other = ephemeralIdentity();
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /no handover record/],
      [{ ...good, at: "1000" }, /malformed/],
      [signHandover(operator, other.nodeId, next.nodeId), /is from/],
      [signHandover(operator, lost.nodeId, other.nodeId), /is to/],
      [signHandover(other, lost.nodeId, next.nodeId), /not one of the project's operator_keys/],
      // Whoever holds the lost disk holds the lost key: it may not name its own successor.
      [signHandover(lost, lost.nodeId, next.nodeId), /cannot vouch for its own successor/],
      [{ ...good, at: 2_000 }, /signature does not verify/],
      [{ ...good, to: other.nodeId }, /is to/],
    ];
    for (const [record, why] of cases) {
      const v = checkHandover(record, { ...ctx, operatorKeys: [operator.nodeId, lost.nodeId] });
      expect(v.ok, String(why)).toBe(false);
      if (!v.ok) expect(v.reason).toMatch(why);
    }
  });
});
