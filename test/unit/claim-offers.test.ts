import { describe, expect, it } from "vitest";
import { hashWinner } from "../../src/pipeline/claim-rules.js";
import { ClaimSequencer } from "../../src/rendezvous/claim-sequencer.js";
import type { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { configOf, nodeIdOf, Replicas, silent } from "../support/in-process.js";

const NOW = 2_000_000;
const A = nodeIdOf("offer-a");
const B = nodeIdOf("offer-b");
const C = nodeIdOf("offer-c");

function heartbeat(p: PipelineDoc, id: string, opts: { coder?: number; paused?: boolean } = {}): void {
  p.setOwnNode(id, {
    label: id.slice(0, 6),
    address: "",
    role: "agent",
    lastSeen: NOW,
    alive: true,
    capacity: { coder: opts.coder ?? 1, qa: 0, mergemaster: 0 },
    paused: opts.paused ? { reason: "operator", since: NOW, until: null } : null,
  });
}

describe("claims offered without a request (claim → coder start without the request round trip)", () => {
  it("gives a new item in current to the best-placed idle coder linked right now, and never to an unlinked, busy or paused one", () => {
    const r = new Replicas(1);
    const p = r.docs[0]!;
    const linked = new Set([A, B]);
    [A, B].forEach((n) => heartbeat(p, n));
    heartbeat(p, C); // idle, but not linked to this rendezvous
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent, (n) => linked.has(n));
    const first = p.createItem({ name: "First", stage: "current" });
    expect(seq.grant(NOW)).toHaveLength(1);
    const winner = p.getItem(first.id)!.claim!.node;
    expect(winner).toBe(hashWinner([A, B], first.id));
    // The winner's only slot is now held: the next item goes to the other linked node.
    const second = p.createItem({ name: "Second", stage: "current" });
    expect(seq.grant(NOW)).toHaveLength(1);
    expect(p.getItem(second.id)!.claim!.node).toBe(winner === A ? B : A);
    // Both linked nodes busy (C is not linked), or the free one paused: nothing is offered.
    const third = p.createItem({ name: "Third", stage: "current" });
    expect(seq.grant(NOW)).toHaveLength(0);
    expect(p.getItem(third.id)!.claim).toBeNull();
    heartbeat(p, A, { coder: 2, paused: true });
    const fourth = p.createItem({ name: "Fourth", stage: "current" });
    expect(seq.grant(NOW)).toHaveLength(0);
    expect(p.getItem(fourth.id)!.claim).toBeNull();
  });

  it("offers an item once: given back, it waits for requests; requested items and backlog are not offered", () => {
    const r = new Replicas(1);
    const p = r.docs[0]!;
    heartbeat(p, A);
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent, () => true);
    const item = p.createItem({ name: "Bounce", stage: "current" });
    expect(seq.grant(NOW)).toHaveLength(1);
    const token = r.claims[0]!.tokenOf(item.id, A)!;
    r.claims[0]!.release(token); // the agent was busy after all
    expect(seq.grant(NOW)).toHaveLength(0);
    expect(p.getItem(item.id)!.claim).toBeNull();
    r.claims[0]!.request(item.id, A, NOW);
    expect(seq.grant(NOW)).toHaveLength(1);
    expect(p.getItem(item.id)!.claim).toMatchObject({ node: A, epoch: 2 });

    p.createItem({ name: "Waits in backlog" });
    expect(seq.grant(NOW)).toHaveLength(0);
  });

  it("without a link predicate (tests, autonomous peers) nothing is offered", () => {
    const r = new Replicas(1);
    const p = r.docs[0]!;
    heartbeat(p, A);
    const item = p.createItem({ name: "Asks first", stage: "current" });
    expect(new ClaimSequencer(r.claims[0]!, configOf(), silent).grant(NOW)).toHaveLength(0);
    expect(p.getItem(item.id)!.claim).toBeNull();
  });

  it("between requesters, one with a free slot wins over one still busy (asking ahead of its finishing job)", () => {
    const r = new Replicas(1);
    const p = r.docs[0]!;
    [A, B].forEach((n) => heartbeat(p, n));
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
    const busy = p.createItem({ name: "Busy work", stage: "current" });
    r.claims[0]!.grant(busy.id, A, NOW);
    // An item the hash would give to the busy node A.
    let k = 0;
    let item = p.createItem({ name: `Contested ${k}`, stage: "current" });
    while (hashWinner([A, B], item.id) !== A) item = p.createItem({ name: `Contested ${++k}`, stage: "current" });
    r.claims[0]!.request(item.id, A, NOW);
    r.claims[0]!.request(item.id, B, NOW);
    seq.grant(NOW);
    expect(p.getItem(item.id)!.claim!.node).toBe(B);
    // Only busy requesters: the hash decides among them as before.
    const other = p.createItem({ name: "Only busy asks", stage: "current" });
    r.claims[0]!.request(other.id, A, NOW);
    seq.grant(NOW);
    expect(p.getItem(other.id)!.claim!.node).toBe(A);
  });
});
