import { describe, expect, it } from "vitest";
import { TransitionRefused } from "../../src/state/claims.js";
import { nodeIdOf, Replicas } from "../support/in-process.js";

const A = nodeIdOf("a");
const B = nodeIdOf("b");

describe("claims as tokens", () => {
  it("a grant raises the epoch, clears requests and gives a token that gates the holder's writes", () => {
    const {
      docs: [p],
      claims: [c],
    } = new Replicas(1);
    const item = p!.createItem({ name: "Work", stage: "current" });
    c!.request(item.id, A, 1);
    c!.request(item.id, B, 2);
    const first = c!.grant(item.id, A, 10)!;
    expect(first).toEqual({ id: item.id, node: A, epoch: 1, stage: "current" });
    // The grantee's log is where readers look from the grant on (the grantee writes nothing to start).
    expect(p!.getItem(item.id)).toMatchObject({
      claim: { node: A, epoch: 1, stage: "current", at: 10 },
      epoch: 1,
      requests: {},
      logNode: A,
    });
    expect(c!.patchAs(first, { branch: "feature/story-x" })).toBe(true);

    const second = c!.grant(item.id, B, 20)!;
    expect(second.epoch).toBe(2);
    // A's token is stale now: every write through it is refused and changes nothing.
    expect(c!.holds(first)).toBe(false);
    expect(c!.patchAs(first, { failure: { kind: "other", message: "late" } })).toBe(false);
    expect(c!.release(first)).toBe(false);
    expect(c!.moveAs(first, "qa", { actor: "coder" })).toBe(false);
    expect(p!.getItem(item.id)).toMatchObject({ stage: "current", claim: { node: B, epoch: 2 }, logNode: B });
    expect(p!.getItem(item.id)!.failure).toBeUndefined();

    expect(c!.moveAs(second, "qa", { actor: "coder" }, { branch: "feature/story-x" })).toBe(true);
    expect(p!.getItem(item.id)).toMatchObject({ stage: "qa", claim: null, epoch: 2 });
    // A token is for one stage: after the move it no longer holds.
    expect(c!.holds(second)).toBe(false);
  });

  it("moves are checked against the transition table; a refused move writes nothing", () => {
    const {
      docs: [p],
      claims: [c],
    } = new Replicas(1);
    const item = p!.createItem({ name: "Work", stage: "current" });
    const t = c!.grant(item.id, A)!;
    expect(() => c!.moveAs(t, "done", { actor: "coder" })).toThrow(TransitionRefused);
    expect(() => c!.move(item.id, "merge", { actor: "operator" })).toThrow(/no transition|merge needs/);
    expect(p!.getItem(item.id)).toMatchObject({ stage: "current", claim: { node: A } });
  });

  it("plain updates cannot write claim fields", () => {
    const {
      docs: [p],
    } = new Replicas(1);
    const item = p!.createItem({ name: "Work" });
    expect(() => p!.update(item.id, { stage: "done" } as never)).toThrow(/only through Claims/);
    expect(() => p!.update(item.id, { claim: null } as never)).toThrow(/only through Claims/);
    expect(p!.getItem(item.id)!.stage).toBe("backlog");
  });

  it("concurrent grants on two partitioned replicas converge to one claim; the other holder's token goes stale", () => {
    const r = new Replicas(2);
    const item = r.docs[0]!.createItem({ name: "Contested", stage: "current" });
    r.partition(0);
    const ta = r.claims[0]!.grant(item.id, A)!;
    const tb = r.claims[1]!.grant(item.id, B)!;
    r.heal();
    const winner = r.docs[0]!.getItem(item.id)!.claim!.node;
    expect(r.docs[1]!.getItem(item.id)!.claim!.node).toBe(winner);
    expect([r.claims[0]!.holds(ta), r.claims[1]!.holds(tb)].filter(Boolean)).toHaveLength(1);
  });
});
