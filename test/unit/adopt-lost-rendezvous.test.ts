import { describe, expect, it } from "vitest";
import { adoptLostRendezvous } from "../../src/backup/adopt-lost-rendezvous.js";
import { OperatorDirectives } from "../../src/node/operator-directives.js";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { Revocations } from "../../src/trust/revocations.js";
import { logger } from "../../src/log.js";

describe("a new rendezvous adopting a lost one's replica", () => {
  it("signs again what the lost key signed that only takes trust away or holds work back, adopts nothing forged, and releases the lost rendezvous' claims", () => {
    const lost = ephemeralIdentity();
    const stranger = ephemeralIdentity();
    const next = ephemeralIdentity();
    const [revoked, forged, paused, agent] = [1, 2, 3, 4].map(() => ephemeralIdentity().nodeId);
    const pipeline = new PipelineDoc();
    const claims = new Claims(pipeline);
    new Revocations(pipeline.doc, (k) => k === lost.nodeId).revoke(lost, revoked!, 1_000);
    new Revocations(pipeline.doc, (k) => k === stranger.nodeId).revoke(stranger, forged!, 2_000);
    const log = logger("node");
    new OperatorDirectives(
      pipeline.doc,
      lost,
      () => true,
      () => undefined,
      log,
    ).issue(paused!, { reason: "disk full" }, 3_000);
    new OperatorDirectives(
      pipeline.doc,
      stranger,
      () => true,
      () => undefined,
      log,
    ).issue(agent!, { reason: "forged" }, 4_000);
    const merging = pipeline.createItem({ name: "Being merged", stage: "merge" });
    const coding = pipeline.createItem({ name: "Being coded", stage: "current" });
    claims.grant(merging.id, lost.nodeId);
    claims.grant(coding.id, agent!);

    const adopted = adoptLostRendezvous(pipeline, claims, next, lost.nodeId);

    expect(adopted).toEqual({ revocations: 1, directives: 1, released: [merging.id] });
    const underNext = new Revocations(pipeline.doc, (k) => k === next.nodeId);
    expect(underNext.revokedAt(revoked!)).toBe(1_000);
    expect(underNext.isRevoked(forged!)).toBe(false);
    // The paused node obeys the new rendezvous' directive, with the operator's original time.
    const applied: unknown[] = [];
    const asPaused = new OperatorDirectives(
      pipeline.doc,
      { nodeId: paused!, sign: () => "" },
      (k) => k === next.nodeId,
      (p) => applied.push(p),
      log,
    );
    expect(asPaused.current()).toMatchObject({ pause: { reason: "disk full" }, at: 3_000, issuer: next.nodeId });
    const asAgent = new OperatorDirectives(
      pipeline.doc,
      { nodeId: agent!, sign: () => "" },
      (k) => k === next.nodeId,
      () => undefined,
      log,
    );
    expect(asAgent.current()).toBeUndefined();
    expect(pipeline.getItem(merging.id)!.claim).toBeNull();
    expect(pipeline.getItem(coding.id)!.claim).toMatchObject({ node: agent });
  });
});
