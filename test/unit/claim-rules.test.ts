import { describe, expect, it } from "vitest";
import { choosePeers, claimIsLive, hashWinner, preferredOrder, type NodeView } from "../../src/pipeline/claim-rules.js";

const t = { nodeAliveMs: 60_000, claimTimeoutMs: 1_800_000 };
const node = (over: Partial<NodeView> = {}): NodeView => ({ id: "a", role: "agent", lastSeen: 1_000_000, alive: true, ...over });

describe("claim rules", () => {
  it("a claim binds while its holder heartbeats, in the stage it was granted for", () => {
    const claim = { node: "a", at: 1_000_000, epoch: 1, stage: "current" as const };
    expect(claimIsLive(claim, "current", node(), 1_000_000 + 1000, t)).toBe(true);
    expect(claimIsLive(claim, "qa", node(), 1_000_000 + 1000, t)).toBe(false);
    expect(claimIsLive(claim, "current", node({ alive: false }), 1_000_000 + 1000, t)).toBe(false);
    expect(claimIsLive(claim, "current", undefined, 1_000_000, t)).toBe(false);
    expect(claimIsLive(claim, "current", node(), 1_000_000 + 1_800_001, t)).toBe(false);
    expect(claimIsLive(null, "current", node(), 1_000_000, t)).toBe(false);
  });

  it("the hash winner is deterministic and independent of input order", () => {
    const ids = ["n1", "n2", "n3", "n4"];
    const w = hashWinner(ids, "5_story_x");
    expect(hashWinner([...ids].reverse(), "5_story_x")).toBe(w);
    // Different stories spread over different nodes.
    const winners = new Set(Array.from({ length: 40 }, (_, i) => hashWinner(ids, `${i}_story_s`)));
    expect(winners.size).toBeGreaterThan(1);
  });

  it("nodes prefer different stories", () => {
    const stories = Array.from({ length: 10 }, (_, i) => `${i + 1}_story_s`);
    const firstChoices = new Set(["n1", "n2", "n3", "n4", "n5", "n6"].map((n) => preferredOrder(n, stories)[0]));
    expect(firstChoices.size).toBeGreaterThan(2);
    expect(preferredOrder("n1", stories).sort()).toEqual([...stories].sort());
  });

  it("mesh peers are capped, exclude self and are stable", () => {
    const all = ["a", "b", "c", "d", "e", "f"];
    const peers = choosePeers("a", all, 3);
    expect(peers).toHaveLength(3);
    expect(peers).not.toContain("a");
    expect(choosePeers("a", [...all].reverse(), 3)).toEqual(peers);
    expect(choosePeers("a", all, 0)).toEqual([]);
  });
});
