import { projectSchema } from "../../src/config/project-config.js";
import * as Y from "yjs";
import pino from "pino";
import type { LiveConfig } from "../../src/config/live-config.js";
import { ClaimSequencer } from "../../src/rendezvous/claim-sequencer.js";
import { ForgeryRepair } from "../../src/rendezvous/forgery-repair.js";
import { OwnWriteReassert } from "../../src/trust/own-write-reassert.js";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { SeededRandom } from "../../test/support/seeded-random.js";
import { checkAll, type Excused, type Violation } from "../chaos/invariants.js";
import { SimNetwork } from "./sim-network.js";
import { SIM_TIMINGS, FakeOrigin, SimAgent, simAuthority, simNodeId, type SimLedger } from "./sim-agent.js";
import { Scheduler } from "./virtual-clock.js";

/** A rule planted wrong on purpose, to show the simulation finds it (test/sim). */
export type PlantedBug = "grant-over-live-claim" | undefined;

export interface SimOptions {
  seed: number;
  agents?: number;
  stories?: number;
  /** Simulated minutes of faults and filing; the run then drains (faults healed) until all is done. */
  minutes?: number;
  bug?: PlantedBug;
}

export interface SimResult {
  seed: number;
  violations: Violation[];
  faults: number;
  stepsRun: number;
  delivered: number;
  dropped: number;
  simulatedMs: number;
  storiesDone: number;
}

const GRACE_MS = 15_000;

/**
 * One seeded schedule of the core: a rendezvous replica running the real `ClaimSequencer`, agents
 * running the claim rules over their own replicas (`SimAgent`), a simulated network and clocks,
 * and faults drawn from the seed: peers that freeze without closing, cut links, skewed wall
 * clocks. The same invariants as the chaos run are checked at the end (bench/chaos/invariants.ts).
 */
export function simulate(o: SimOptions): SimResult {
  const rnd = new SeededRandom(o.seed);
  const faults = rnd.fork("faults");
  const sched = new Scheduler();
  const net = new SimNetwork(sched, rnd.fork("net"), { dropChance: 0.05, maxDelayMs: 400, catchUpMs: 2_000 });
  const ledger: SimLedger = { jobs: [], origin: new FakeOrigin() };
  const skew = new Map<string, number>();
  const frozenUntil = new Map<string, number>();
  const clockOf = (name: string) => sched.clockFor(() => skew.get(name) ?? 0);
  const excused: Excused[] = [];

  // The rendezvous: its replica, the real sequencer, and the REST create path (a local write).
  const rdvClock = clockOf("rendezvous");
  const rdvDoc = new Y.Doc();
  const rdvAuthority = simAuthority("rendezvous");
  // A fixed client id, as for the agents (sim-agent.ts): Yjs would draw a random one.
  rdvDoc.clientID = rnd.fork("rendezvous").int(1, 2 ** 31 - 1);
  const rdv = new PipelineDoc(rdvDoc, { clock: rdvClock, log: pino({ level: "silent" }), authority: rdvAuthority });
  const rdvClaims = new Claims(rdv);
  // As the rendezvous does (HuskiesNode): a refused write (a stale holder's) is overwritten with
  // the last valid value, so a replica that holds the refused write as its newest converges.
  new ForgeryRepair(rdvClaims, rdvAuthority, pino({ level: "silent" }), (fn) => rdvClock.setTimeout(fn, 0)).start();
  new OwnWriteReassert(rdvClaims, rdvAuthority, pino({ level: "silent" }), (fn) => rdvClock.setTimeout(fn, 0)).start();
  const rdvFrozen = () => sched.time < (frozenUntil.get("rendezvous") ?? 0);
  const RDV = simNodeId("rendezvous");
  net.add({ name: RDV, doc: rdvDoc, frozen: rdvFrozen });
  // Every other key at its default (the schema's), so the sequencer reads what a real project has.
  const config = { project: projectSchema.parse(SIM_TIMINGS) } as unknown as LiveConfig;
  const sequencer = new ClaimSequencer(rdvClaims, config, pino({ level: "silent" }), (id) => net.up(RDV, id));
  const grant = () => {
    if (rdvFrozen()) return;
    if (o.bug === "grant-over-live-claim") {
      // The planted bug: every request is granted, whether or not a live holder has the item.
      for (const item of rdv.listRequested()) {
        const asker = Object.keys(item.requests).sort()[0];
        if (asker && item.claim?.node !== asker) rdvClaims.grant(item.id, asker);
        else rdvClaims.clearRequests(item.id);
      }
      return;
    }
    sequencer.grant();
  };
  let pending = false;
  rdv.onChange(() => {
    if (pending) return;
    pending = true;
    rdvClock.setTimeout(() => {
      pending = false;
      grant();
    }, 0);
  });
  rdvClock.setInterval(grant, SIM_TIMINGS.scan_interval_secs * 1000);

  const agents = Array.from({ length: o.agents ?? 3 }, (_, i) => {
    const name = `agent-${i + 1}`;
    const a = new SimAgent(name, clockOf(name), rnd.fork(name), ledger);
    net.add({ name: a.id, doc: a.doc, frozen: () => a.frozen() });
    net.link(RDV, a.id);
    return a;
  });

  const minutes = o.minutes ?? 10;
  const faultEnd = minutes * 60_000;
  const acknowledged: string[] = [];
  const storyCount = o.stories ?? 10;
  for (let i = 0; i < storyCount; i++) {
    sched.at(((i + 0.5) * faultEnd * 0.8) / storyCount, () => {
      if (rdvFrozen())
        return void sched.at(1_000, () => acknowledged.push(rdv.createItem({ name: `sim ${i}`, stage: "current" }, rdvClock.now()).id));
      acknowledged.push(rdv.createItem({ name: `sim ${i}`, stage: "current" }, rdvClock.now()).id);
    });
  }

  // Faults, one at a time, each healed before the next: as the chaos run's schedule.
  let injected = 0;
  let t = faults.int(2_000, 20_000);
  const names = ["rendezvous", ...agents.map((a) => a.name)];
  while (t < faultEnd) {
    const kind = faults.weighted({ freeze: 3, partition: 3, clock: 2 });
    const target = faults.pick(names);
    const hold = faults.int(1_000, 40_000);
    const from = t;
    injected += 1;
    if (kind === "freeze") {
      sched.at(from, () => {
        frozenUntil.set(target, from + hold);
        const a = agents.find((x) => x.name === target);
        if (a) a.frozenUntil = from + hold;
      });
    } else if (kind === "partition") {
      const peer = target === "rendezvous" ? faults.pick(agents).name : target;
      const peerId = simNodeId(peer);
      sched.at(from, () => net.setCut(RDV, peerId, true));
      sched.at(from + hold, () => net.setCut(RDV, peerId, false));
      excused.push({ node: peer, from, to: from + hold + GRACE_MS });
    } else {
      const offset = (faults.chance(0.5) ? -1 : 1) * faults.int(5_000, 120_000);
      sched.at(from, () => skew.set(target, offset));
      sched.at(from + hold, () => skew.set(target, 0));
    }
    if (kind === "freeze" && target !== "rendezvous") excused.push({ node: target, from, to: from + hold + GRACE_MS });
    t = from + hold + faults.int(1_000, 20_000);
  }

  let steps = sched.runUntil(faultEnd + 60_000);
  // Drain: no faults now; give the cluster up to ten more simulated minutes to finish every story.
  const allDone = () => acknowledged.every((id) => rdv.getItem(id)?.stage === "done");
  for (let i = 0; i < 600 && !allDone(); i++) steps += sched.runUntil(sched.time + 1_000);
  const stories = rdv.listItems().map((i) => ({ id: i.id, stage: i.stage, blocked: i.blocked, failure: i.failure }));
  const violations = checkAll(
    {
      acknowledged,
      stories,
      jobs: ledger.jobs,
      excused,
      mergedTrailers: ledger.origin.merged,
      unexpectedExits: [],
      starts: ledger.jobs.map((j) => ({ story: j.story, role: j.role, node: j.node, at: j.start })),
      logBytesPerMinute: [],
      final: true,
    },
    sched.time,
  );
  // Every replica converges on the rendezvous' view once the network has healed.
  for (const a of agents)
    for (const id of acknowledged)
      if (a.pipeline.getItem(id)?.stage !== rdv.getItem(id)?.stage)
        violations.push({
          invariant: "converged",
          detail: `${a.name} has ${id} in ${a.pipeline.getItem(id)?.stage}, the rendezvous in ${rdv.getItem(id)?.stage}`,
        });
  return {
    seed: o.seed,
    violations,
    faults: injected,
    stepsRun: steps,
    delivered: net.delivered,
    dropped: net.dropped,
    simulatedMs: sched.time,
    storiesDone: stories.filter((s) => s.stage === "done").length,
  };
}
