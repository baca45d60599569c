import { describe, expect, it } from "vitest";
import { hashWinner } from "../../src/pipeline/claim-rules.js";
import { ClaimSequencer } from "../../src/rendezvous/claim-sequencer.js";
import { RendezvousService } from "../../src/rendezvous/rendezvous-service.js";
import { Housekeeping } from "../../src/rendezvous/housekeeping.js";
import type { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { configOf, nodeIdOf, Replicas, silent } from "../support/in-process.js";
import { ManualClock } from "../support/manual-clock.js";

const NOW = 1_000_000;
const A = nodeIdOf("agent-a");
const B = nodeIdOf("agent-b");
const DEAD = nodeIdOf("agent-dead");

function heartbeat(p: PipelineDoc, id: string, lastSeen: number, coder = 1): void {
  p.setOwnNode(id, {
    label: id.slice(0, 6),
    address: "",
    role: "agent",
    lastSeen,
    alive: true,
    capacity: { coder, qa: 0, mergemaster: 0 },
  });
}

describe("claim sequencer (in-process, injected clock)", () => {
  it("a pass of the service grants in one update, and names the grantees before that update leaves", async () => {
    const r = new Replicas(3); // 0: rendezvous, 1: agent A, 2: agent B
    const [rv, pa, pb] = r.docs as [PipelineDoc, PipelineDoc, PipelineDoc];
    heartbeat(pa, A, Date.now());
    heartbeat(pb, B, Date.now());
    const events: string[] = [];
    const service = new RendezvousService(r.claims[0]!, configOf(), silent, {
      project: "unit",
      onGrant: (nodes) => events.push(`grantees ${[...nodes].sort().join(",")}`),
    });
    service.start();
    try {
      const [x, y] = [1, 2].map((i) => rv.createItem({ name: `Story ${i}`, stage: "current" }));
      await new Promise((resolve) => setImmediate(resolve));
      // What leaves the rendezvous: its own updates (the SyncHub sends these to peers).
      rv.doc.on("update", (_u: Uint8Array, origin: unknown) => {
        if (origin !== "net") events.push("update");
      });
      r.claims[1]!.request(x!.id, A, Date.now());
      r.claims[2]!.request(y!.id, B, Date.now());
      await new Promise((resolve) => setImmediate(resolve));
      expect(rv.getItem(x!.id)!.claim!.node).toBe(A);
      expect(rv.getItem(y!.id)!.claim!.node).toBe(B);
      expect(events).toEqual([`grantees ${[A, B].sort().join(",")}`, "update"]);
    } finally {
      service.stop();
    }
  });

  it("grants each requested item to one live requester by the hash rule, over joined replicas", () => {
    const clock = new ManualClock(NOW);
    const r = new Replicas(3, clock); // 0: rendezvous, 1: agent A, 2: agent B
    const [rv, pa, pb] = r.docs as [PipelineDoc, PipelineDoc, PipelineDoc];
    // DEAD's last heartbeat arrived ten minutes ago (as the rendezvous' own clock tells).
    heartbeat(pb, DEAD, clock.now());
    clock.advance(10 * 60_000);
    heartbeat(pa, A, clock.now());
    heartbeat(pb, B, clock.now());
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
    const items = [1, 2, 3, 4].map((i) => rv.createItem({ name: `Story ${i}`, stage: "current" }));
    for (const it of items) {
      r.claims[1]!.request(it.id, A, NOW);
      r.claims[2]!.request(it.id, B, NOW);
      r.claims[2]!.request(it.id, DEAD, NOW);
    }
    expect(seq.grant(NOW)).toHaveLength(4);
    for (const it of items) {
      const claim = pa.getItem(it.id)!.claim!;
      expect(claim.node).toBe(hashWinner([A, B], it.id));
      expect(claim).toMatchObject({ epoch: 1, stage: "current" });
      expect(pb.getItem(it.id)!.requests).toEqual({});
    }
    // Asked again while held: the requests are dropped, no second grant.
    r.claims[2]!.request(items[0]!.id, B, NOW + 1);
    expect(seq.grant(NOW + 1)).toHaveLength(0);
    expect(rv.getItem(items[0]!.id)!.requests).toEqual({});
  });

  it("drops requests for blocked, backlog and finished items; grants nothing to a dead node", () => {
    const clock = new ManualClock(NOW);
    const r = new Replicas(1, clock);
    const [p] = r.docs as [PipelineDoc];
    heartbeat(p, DEAD, clock.now());
    clock.advance(10 * 60_000);
    heartbeat(p, A, clock.now());
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
    const blocked = p.createItem({ name: "Blocked", stage: "current" });
    p.update(blocked.id, { blocked: "waiting" });
    const backlog = p.createItem({ name: "Later" });
    const onlyDead = p.createItem({ name: "Only dead asked", stage: "current" });
    for (const id of [blocked.id, backlog.id]) r.claims[0]!.request(id, A, NOW);
    r.claims[0]!.request(onlyDead.id, DEAD, NOW);
    expect(seq.grant(NOW)).toHaveLength(0);
    expect(p.listRequested().map((i) => i.id)).toEqual([onlyDead.id]);
    expect(p.getItem(onlyDead.id)!.claim).toBeNull();
  });

  it("a rendezvous that was stopped (SIGSTOP, a paused VM) does not take its own pause for the holder's silence", () => {
    const clock = new ManualClock(NOW);
    const r = new Replicas(3, clock); // 0: rendezvous, 1: agent A, 2: agent B
    const [rv, pa, pb] = r.docs as [PipelineDoc, PipelineDoc, PipelineDoc];
    const seq = new ClaimSequencer(r.claims[0]!, configOf({ claim_timeout_secs: 60, scan_interval_secs: 15 }), silent);
    heartbeat(pa, A, clock.now());
    heartbeat(pb, B, clock.now());
    const item = rv.createItem({ name: "Held", stage: "current" });
    r.claims[1]!.request(item.id, A, clock.now());
    expect(seq.grant()).toEqual([A]);
    // Stopped for two minutes: no pass runs and nothing reaches it, while A works on.
    r.partition(0);
    clock.advance(120_000);
    r.heal();
    // Woken, the first thing it hears is B asking for A's story, before A's next heartbeat.
    heartbeat(pb, B, clock.now());
    r.claims[2]!.request(item.id, B, clock.now());
    expect(seq.grant()).toEqual([]);
    expect(rv.getItem(item.id)!.claim).toMatchObject({ node: A, epoch: 1 });
    // A holder that really is silent for the claim timeout after the wake is still reclaimed.
    for (let t = 0; t <= 60_000; t += 15_000) {
      clock.advance(15_000);
      heartbeat(pb, B, clock.now());
      seq.grant();
    }
    r.claims[2]!.request(item.id, B, clock.now());
    expect(seq.grant()).toEqual([B]);
  });

  it("a request left standing from the stage an item left is not granted to a node without a slot for the new stage", () => {
    const clock = new ManualClock(NOW);
    const r = new Replicas(1, clock);
    const [p] = r.docs as [PipelineDoc];
    heartbeat(p, A, clock.now()); // a coder slot only
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
    const item = p.createItem({ name: "Passing through", stage: "current" });
    // The coder's move to `qa` did not see this request (concurrent), so it survived the move.
    r.claims[0]!.move(item.id, "qa", { actor: "coder" });
    r.claims[0]!.request(item.id, A, clock.now());
    expect(seq.grant()).toEqual([]);
    expect(p.getItem(item.id)!.claim).toBeNull();
    r.claims[0]!.move(item.id, "merge", { actor: "system", commitsAhead: 1 });
    r.claims[0]!.request(item.id, A, clock.now());
    expect(seq.grant()).toEqual([]);
    // A node with a mergemaster slot is granted the merge as usual.
    p.setOwnNode(B, {
      label: "b",
      address: "",
      role: "agent",
      lastSeen: clock.now(),
      alive: true,
      capacity: { coder: 0, qa: 0, mergemaster: 1 },
    });
    r.claims[0]!.request(item.id, B, clock.now());
    expect(seq.grant()).toEqual([B]);
    expect(p.getItem(item.id)!.claim).toMatchObject({ node: B, stage: "merge" });
  });

  it("cost follows the requests, not the project: 10 000 finished items are never decoded", () => {
    const r = new Replicas(1);
    const [p] = r.docs as [PipelineDoc];
    heartbeat(p, A, NOW);
    p.transact(() => {
      for (let i = 0; i < 10_000; i++) p.createItem({ name: `Done ${i}`, stage: "done" });
    });
    const wanted = p.createItem({ name: "Wanted", stage: "current" });
    r.claims[0]!.request(wanted.id, A, NOW);
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
    const reads = countReads(p, () => seq.grant(NOW));
    expect(p.getItem(wanted.id)!.claim!.node).toBe(A);
    expect(reads).toBeLessThan(10);
  });
});

/** How many items `fn` decodes (getItem calls), to check that work is proportional to the change. */
function countReads(p: PipelineDoc, fn: () => void): number {
  const original = p.getItem.bind(p);
  let n = 0;
  p.getItem = (id: string) => {
    n += 1;
    return original(id);
  };
  try {
    fn();
  } finally {
    p.getItem = original;
  }
  return n;
}

describe("housekeeping (in-process, injected clock)", () => {
  it("archives done items after archive_after_secs and promotes backlog items whose dependencies are done", () => {
    const r = new Replicas(1);
    const [p] = r.docs as [PipelineDoc];
    const hk = new Housekeeping(r.claims[0]!, configOf({ archive_after_secs: 60 }), silent);
    heartbeat(p, A, NOW, 2);
    const dep = p.createItem({ name: "Dependency", stage: "done" }, NOW);
    const waiting = p.createItem({ name: "Waits", dependsOn: [dep.id] }, NOW);
    const typo = p.createItem({ name: "Typo", dependsOn: ["99_story_nope"] }, NOW);
    hk.promote(NOW);
    expect(p.getItem(waiting.id)!.stage).toBe("current");
    expect(p.getItem(typo.id)!.stage).toBe("backlog");
    hk.archive(NOW + 59_000);
    expect(p.getItem(dep.id)!.stage).toBe("done");
    hk.archive(NOW + 61_000);
    expect(p.getItem(dep.id)!.stage).toBe("archived");
  });

  it("promotes no more than the free coder slots of live, unpaused nodes", () => {
    const r = new Replicas(1);
    const [p] = r.docs as [PipelineDoc];
    const hk = new Housekeeping(r.claims[0]!, configOf(), silent);
    heartbeat(p, A, NOW, 2);
    p.setOwnNode(B, {
      label: "b",
      address: "",
      role: "agent",
      lastSeen: NOW,
      alive: true,
      capacity: { coder: 5, qa: 0, mergemaster: 0 },
      paused: { reason: "limit", since: NOW, until: null },
    });
    for (let i = 0; i < 4; i++) p.createItem({ name: `S${i}` });
    hk.promote(NOW);
    expect(p.listItemsIn(["current"])).toHaveLength(2);
  });
});
