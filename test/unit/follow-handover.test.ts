import { describe, expect, it } from "vitest";
import { mayFollowHandover } from "../../src/trust/follow-handover.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { OperatorKeys, signHandover } from "../../src/trust/operator-keys.js";
import { parseAuthFrame } from "../../src/sync/frames.js";

describe("following a recovered rendezvous on an operator's handover", () => {
  const operator = ephemeralIdentity();
  const lost = ephemeralIdentity();
  const next = ephemeralIdentity();
  const keys = new OperatorKeys(
    () => lost.nodeId,
    () => [operator.nodeId],
  );
  const ctx = { pinned: lost.nodeId, answered: next.nodeId, keys };

  it("follows a key that one of this checkout's operator keys signed over, after a JSON round trip", () => {
    const h = JSON.parse(JSON.stringify(signHandover(operator, next.nodeId, 1_000)));
    expect(mayFollowHandover(h, ctx)).toEqual({ ok: true });
  });

  it("refuses no record, another key, the lost key vouching, an unlisted operator, a replay and a forged signature", () => {
    const other = ephemeralIdentity();
    const good = signHandover(operator, next.nodeId, 1_000);
    const cases: Array<[Parameters<typeof mayFollowHandover>[0], Partial<typeof ctx> & { followedAt?: number }, RegExp]> = [
      [undefined, {}, /no operator-signed handover/],
      [signHandover(operator, other.nodeId), {}, /names another key/],
      [signHandover(lost, next.nodeId), {}, /cannot vouch for its successor/],
      [signHandover(other, next.nodeId), {}, /not one of this checkout's operator_keys/],
      [good, { followedAt: 1_000 }, /older than the one this checkout last followed/],
      [{ ...good, at: 2_000 }, {}, /does not verify/],
    ];
    for (const [h, over, reason] of cases) {
      const v = mayFollowHandover(h, { ...ctx, ...over });
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).toMatch(reason);
    }
  });

  it("travels in the challenge frame; a malformed one is dropped, never fatal", () => {
    const base = { type: "challenge", v: 2, nodeId: next.nodeId, challenge: "a".repeat(64), protocol: 3 };
    const h = signHandover(operator, next.nodeId, 1_000);
    expect(parseAuthFrame({ ...base, handover: h })).toMatchObject({ handover: h });
    for (const bad of [{ ...h, sig: "zz" }, { ...h, at: 1.5 }, "text", [h]])
      expect(parseAuthFrame({ ...base, handover: bad })).not.toHaveProperty("handover");
  });
});
