import pino from "pino";
import { Writable } from "node:stream";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { clockOffset, clockSkewed, holderHeard, peerAlive } from "../../src/pipeline/peer-liveness.js";
import { ClaimView } from "../../src/state/claim-view.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { nodeIdOf } from "../support/in-process.js";
import { ManualClock } from "../support/manual-clock.js";

describe("liveness rules (pure)", () => {
  it("peerAlive: heard within the window on this node's clock; never heard is not alive", () => {
    expect(peerAlive(1000, 60_999, 60_000)).toBe(true);
    expect(peerAlive(1000, 61_000, 60_000)).toBe(true);
    expect(peerAlive(1000, 61_001, 60_000)).toBe(false);
    expect(peerAlive(undefined, 0, 60_000)).toBe(false);
  });

  it("holderHeard: heard or first seen within the claim timeout", () => {
    expect(holderHeard(0, 1_800_000, 1_800_000)).toBe(true);
    expect(holderHeard(0, 1_800_001, 1_800_000)).toBe(false);
    expect(holderHeard(undefined, 0, 1_800_000)).toBe(false);
  });

  it("clock offset: the least delayed sample; ahead is sure at once, behind takes two samples", () => {
    expect(clockOffset([])).toBeUndefined();
    expect(clockOffset([-31_000, -30_200, -30_900])).toBe(-30_200);
    expect(clockSkewed([30_000])).toBe(true);
    expect(clockSkewed([-30_000])).toBe(false);
    expect(clockSkewed([-30_000, -29_500])).toBe(true);
    // One late heartbeat (a link that was down) among on-time ones is not a skewed clock.
    expect(clockSkewed([-12_000, -40])).toBe(false);
    expect(clockSkewed([4_900, 4_999])).toBe(false);
  });
});

/** Two replicas on two machines: each with its own clock, joined like a network. */
function twoMachines(skewMs: number) {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const rvClock = new ManualClock(1_700_000_000_000 + skewMs);
  const agClock = new ManualClock(1_700_000_000_000);
  const rv = new PipelineDoc(new Y.Doc(), { clock: rvClock, log: pino({ level: "info" }, sink) });
  const ag = new PipelineDoc(new Y.Doc(), { clock: agClock });
  ag.doc.on("update", (u: Uint8Array, origin: unknown) => origin !== "net" && Y.applyUpdate(rv.doc, u, "net"));
  const A = nodeIdOf("agent");
  const beat = () =>
    ag.setOwnNode(A, {
      label: "a",
      address: "",
      role: "agent",
      lastSeen: agClock.now(),
      alive: true,
      capacity: { coder: 1, qa: 0, mergemaster: 0 },
    });
  const tick = (ms: number) => {
    rvClock.advance(ms);
    agClock.advance(ms);
  };
  /** The agent's wall clock alone jumps (NTP stepping it, an operator setting it). */
  const stepAgentClock = (ms: number) => agClock.skewWall(ms);
  return { rv, ag, A, beat, tick, stepAgentClock, logs };
}

const timings = { nodeAliveMs: 10_000, claimTimeoutMs: 1_800_000 };
const saved = process.env.HUSKIES_REVERT_FIXES;
afterEach(() => {
  if (saved === undefined) delete process.env.HUSKIES_REVERT_FIXES;
  else process.env.HUSKIES_REVERT_FIXES = saved;
});

describe("liveness by receipt (row 9)", () => {
  for (const skew of [30_000, -30_000, 0]) {
    it(`a rendezvous whose clock is ${skew / 1000} s off still sees a heartbeating agent alive, and a silent one dead`, () => {
      const m = twoMachines(skew);
      m.beat();
      expect(new ClaimView(m.rv, timings).alive(m.A)).toBe(true);
      m.tick(9_000);
      expect(new ClaimView(m.rv, timings).alive(m.A)).toBe(true);
      m.tick(2_000);
      expect(new ClaimView(m.rv, timings).alive(m.A)).toBe(false);
      m.beat();
      expect(new ClaimView(m.rv, timings).alive(m.A)).toBe(true);
    });
  }

  it("reverting the fix (test-only switch) brings back the bug: 30 s ahead, nobody is alive", () => {
    process.env.HUSKIES_REVERT_FIXES = "clock-liveness";
    const m = twoMachines(30_000);
    m.beat();
    expect(new ClaimView(m.rv, timings).alive(m.A)).toBe(false);
  });

  it("an agent whose wall clock steps back keeps heartbeating: still alive, its claims still bind", () => {
    const m = twoMachines(0);
    m.beat();
    m.tick(1_000);
    // NTP (or an operator) steps the agent's clock back a minute: its next beats carry a smaller
    // lastSeen, which a reader must not take for a replay of an old entry.
    m.stepAgentClock(-60_000);
    for (let i = 0; i < 3; i++) {
      m.tick(5_000);
      m.beat();
    }
    m.tick(2_000);
    // Last beat 2 s ago; the one before the step 18 s ago (beyond node_alive).
    expect(new ClaimView(m.rv, timings).alive(m.A)).toBe(true);
    expect(m.rv.receipts.view(m.A).heardSecsAgo).toBe(2);
  });

  it("logs a peer whose clock is more than 5 s off once, and shows the offset", () => {
    const m = twoMachines(-30_000); // the rendezvous is behind: the agent is 30 s ahead of it
    for (let i = 0; i < 4; i++) {
      m.beat();
      m.tick(1000);
    }
    const lines = m.logs.filter((l) => /clock differs/.test(String(l.msg)));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ offsetSecs: 30 });
    expect(m.rv.receipts.view(m.A)).toEqual({ heardSecsAgo: 1, clockOffsetSecs: 30 });
    expect(twoMachines(2_000).rv.receipts.view(nodeIdOf("x"))).toEqual({ heardSecsAgo: null });
  });

  it("entries loaded or caught up in bulk are not heartbeats: not alive until one arrives, but their claims still bind", () => {
    const m = twoMachines(0);
    m.beat();
    const item = m.ag.createItem({ name: "held", stage: "current" });
    // A replica that starts from the other's whole state (as from disk or a sync step 2).
    const later = new PipelineDoc(new Y.Doc(), { clock: new ManualClock() });
    Y.applyUpdate(later.doc, Y.encodeStateAsUpdate(m.ag.doc), { catchingUp: true });
    later.doc.transact(() => {
      const items = later.items.get(item.id) as Y.Map<unknown>;
      items.set("claim", { node: m.A, at: 0, epoch: 1, stage: "current" });
    });
    const view = new ClaimView(later, timings);
    expect(view.alive(m.A)).toBe(false);
    expect(view.live(later.getItem(item.id)!)).toBe(true);

    // The same catch-up sent by that node itself over its link proves it runs now.
    const direct = new PipelineDoc(new Y.Doc(), { clock: new ManualClock() });
    Y.applyUpdate(direct.doc, Y.encodeStateAsUpdate(m.ag.doc), { catchingUp: true, peerId: m.A });
    expect(new ClaimView(direct, timings).alive(m.A)).toBe(true);
    // …without sampling its clock from a heartbeat that may be old.
    expect(direct.receipts.view(m.A)).toEqual({ heardSecsAgo: 0 });
  });
});
