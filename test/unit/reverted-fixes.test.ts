import { afterEach, describe, expect, it } from "vitest";
import { isReverted, parseRevertedFixes, REVERTIBLE_FIXES } from "../../src/util/reverted-fixes.js";

const saved = process.env.HUSKIES_REVERT_FIXES;
afterEach(() => {
  if (saved === undefined) delete process.env.HUSKIES_REVERT_FIXES;
  else process.env.HUSKIES_REVERT_FIXES = saved;
});

describe("the test-only switch that reverts four fixes", () => {
  it("is off by default: every fix is on", () => {
    delete process.env.HUSKIES_REVERT_FIXES;
    for (const fix of REVERTIBLE_FIXES) expect(isReverted(fix)).toBe(false);
    expect(REVERTIBLE_FIXES).toEqual(["hung-peer", "id-counter", "clock-liveness", "empty-replica"]);
  });

  it("reverts exactly the fixes it names, and follows the variable when it changes", () => {
    process.env.HUSKIES_REVERT_FIXES = "id-counter, clock-liveness,unknown";
    expect(REVERTIBLE_FIXES.filter(isReverted)).toEqual(["id-counter", "clock-liveness"]);
    process.env.HUSKIES_REVERT_FIXES = "";
    expect(REVERTIBLE_FIXES.filter(isReverted)).toEqual([]);
    expect([...parseRevertedFixes("hung-peer,empty-replica")]).toEqual(["hung-peer", "empty-replica"]);
  });
});
