import { describe, expect, it } from "vitest";
import { judgeTick, readTickRequest, TICK_KIND, tickRequestKey } from "../../src/pipeline/tick-request.js";
import { applyTickRequests } from "../../src/rendezvous/tick-requests.js";
import { Claims, type ClaimToken } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ephemeralIdentity, type Identity } from "../../src/trust/identity.js";
import { signRecord } from "../../src/trust/signed-record.js";
import { silent } from "../support/in-process.js";

const BODY = "# S\n\n- [ ] one\n- [ ] two\n";

describe("a holder's tick request", () => {
  it("applies only for the claim's node at the claim's epoch, to an existing criterion", () => {
    const claim = { node: "a".repeat(64), at: 1, epoch: 3, stage: "current" as const };
    const item = { id: "1_story_s", body: BODY, claim, epoch: 3 };
    const r = { item: item.id, node: claim.node, epoch: 3, index: 1, done: true, at: 5, sig: "x" };
    expect(judgeTick(r, item)).toEqual({ ok: true, body: "# S\n\n- [ ] one\n- [x] two\n" });
    expect(judgeTick({ ...r, item: "2_story_t" }, item)).toMatchObject({ ok: false, reason: "signed for another item" });
    expect(judgeTick({ ...r, node: "b".repeat(64) }, item)).toMatchObject({ ok: false, reason: "the signer does not hold the story" });
    expect(judgeTick({ ...r, epoch: 2 }, item)).toMatchObject({ ok: false, reason: "a stale claim (epoch 2, now 3)" });
    expect(judgeTick({ ...r, index: 2 }, item)).toMatchObject({ ok: false, reason: "no criterion 2" });
    expect(judgeTick(r, { ...item, claim: null })).toMatchObject({ ok: false });
    expect(readTickRequest({ ...r, index: -1 })).toBeUndefined();
    expect(readTickRequest({ ...r, done: "yes" })).toBeUndefined();
    expect(readTickRequest(r)).toEqual(r);
  });

  it("the rendezvous applies a signed request and drops forged and stale ones, all in one pass", () => {
    const pipeline = new PipelineDoc();
    const claims = new Claims(pipeline);
    const holder = ephemeralIdentity();
    const forger = ephemeralIdentity();
    const s = pipeline.createItem({ name: "S", stage: "current", body: BODY });
    const token = claims.grant(s.id, holder.nodeId)!;
    let at = 1000; // distinct keys: one per node, time and criterion
    const ask = (by: Identity, index: number, over: Partial<{ node: string; epoch: number }> = {}, t: ClaimToken = token) => {
      const fields = { item: s.id, node: holder.nodeId, epoch: token.epoch, index, done: true, at: at++, ...over };
      expect(claims.requestTick(t, tickRequestKey(fields), signRecord(by, TICK_KIND, fields))).toBe(true);
    };
    ask(holder, 0);
    ask(forger, 1); // says it is the holder, signed by another key
    ask(holder, 1, { epoch: token.epoch - 1 }); // from an earlier claim
    expect(Object.keys(pipeline.getItem(s.id)!.tickRequests ?? {})).toHaveLength(3);
    expect(applyTickRequests(claims, silent)).toBe(1);
    const after = pipeline.getItem(s.id)!;
    expect(after.body).toBe("# S\n\n- [x] one\n- [ ] two\n");
    expect(after.tickRequests).toBeUndefined();
    // A released claim: the holder's token no longer asks.
    claims.clear(s.id);
    const fields = { item: s.id, node: holder.nodeId, epoch: token.epoch, index: 1, done: true, at: 1 };
    expect(claims.requestTick(token, tickRequestKey(fields), signRecord(holder, TICK_KIND, fields))).toBe(false);
  });
});
