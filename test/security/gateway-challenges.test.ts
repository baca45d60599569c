import { describe, expect, it } from "vitest";
import { ChallengeStore } from "../../src/gateway/challenges.js";
import { GATEWAY_CHALLENGE_TTL_SECS } from "../../src/config/defaults.js";

describe("gateway challenges", () => {
  it("are single-use, expire after the TTL, and at most `max` are kept", () => {
    let now = 1_000_000;
    const store = new ChallengeStore(GATEWAY_CHALLENGE_TTL_SECS * 1000, 3, () => now);
    const a = store.issue();
    expect(store.take(a)).toBe(true);
    expect(store.take(a)).toBe(false);

    const late = store.issue();
    now += GATEWAY_CHALLENGE_TTL_SECS * 1000 + 1;
    expect(store.take(late)).toBe(false);

    const [x, y, z, w] = [store.issue(), store.issue(), store.issue(), store.issue()];
    expect(store.take(x!)).toBe(false); // pushed out by the fourth
    expect([store.take(y!), store.take(z!), store.take(w!)]).toEqual([true, true, true]);
    expect(store.take("not-issued")).toBe(false);
  });
});
