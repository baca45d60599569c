import { describe, expect, it } from "vitest";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { signCached, verifyCached, verifyCounts } from "../../src/trust/verify-cache.js";

describe("the cache of verified signatures", () => {
  it("answers from memory only for the same signer and the same text", () => {
    const a = ephemeralIdentity();
    const b = ephemeralIdentity();
    const sig = signCached(a, '{"stage":"qa"}');
    const before = verifyCounts.checks;
    expect(verifyCached(a.nodeId, '{"stage":"qa"}', sig)).toBe(true);
    expect(verifyCounts.checks).toBe(before);
    // The same signature over other text, or claimed by another key, is checked (and fails).
    expect(verifyCached(a.nodeId, '{"stage":"done"}', sig)).toBe(false);
    expect(verifyCached(b.nodeId, '{"stage":"qa"}', sig)).toBe(false);
    expect(verifyCounts.checks).toBe(before + 2);
    // Another node's signature is verified once, then remembered.
    const other = b.sign("text");
    expect(verifyCached(b.nodeId, "text", other)).toBe(true);
    expect(verifyCached(b.nodeId, "text", other)).toBe(true);
    expect(verifyCounts.checks).toBe(before + 3);
  });
});
