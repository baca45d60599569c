import { afterEach, describe, expect, it } from "vitest";
import { agentSlotSchema } from "../../src/config/agents-config.js";
import { serialize, type JobContext } from "../../src/agent/job-context.js";
import { ManualClock } from "../support/manual-clock.js";
import { RendezvousWatch } from "../../src/agent/rendezvous-watch.js";
import { StoryJob } from "../../src/agent/story-job.js";
import { WorkLoop } from "../../src/agent/work-loop.js";
import { ClaimSequencer } from "../../src/rendezvous/claim-sequencer.js";
import { AgentPool } from "../../src/runtime/agent-pool.js";
import { StoryLogs } from "../../src/runtime/story-log.js";
import type { PipelineDoc } from "../../src/state/pipeline-doc.js";
import type { Claims } from "../../src/state/claims.js";
import { configOf, nodeIdOf, Replicas, silent, tempDir } from "../support/in-process.js";

const NOW = 5_000_000;
const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

/** A job that does nothing until the test finishes it; records that it started and how it ended. */
class HeldJob extends StoryJob {
  static started: HeldJob[] = [];
  finish!: () => void;
  async work(): Promise<void> {
    HeldJob.started.push(this);
    await new Promise<void>((resolve) => {
      this.finish = resolve;
    });
  }
  override async stop(reason: string): Promise<void> {
    this.stopped = true;
    this.finish?.();
    void reason;
  }
  /** The last short step begins (a coder's push) or fails. */
  nearlyDone(on: boolean): void {
    this.setFinishing(on);
  }
}

/** Let a finished job's bookkeeping run (promise callbacks, then the loop's scheduled pass). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function agent(
  p: PipelineDoc,
  claims: Claims,
  nodeId: string,
  opts: { reachable?: () => boolean; accepts?: () => boolean; project?: Record<string, unknown> } = {},
) {
  const t = tempDir();
  dirs.push(t);
  const slots = [agentSlotSchema.parse({ name: "coder-1", role: "coder", runtime: "command", command: "true" })];
  const config = configOf({ autonomous_after_secs: 60, ...opts.project }, slots);
  const ctx: JobContext = {
    root: t.dir,
    nodeId,
    pipeline: p,
    claims,
    config,
    logs: new StoryLogs(t.dir),
    pool: new AgentPool(config.agents.agent, 3),
    baseBranch: "main",
    log: silent,
    mergeLock: serialize(),
    trackPid: () => undefined,
    health: { nodeFailure: () => undefined, nearLimit: () => undefined, succeeded: () => undefined },
  };
  p.setOwnNode(nodeId, {
    label: nodeId.slice(0, 4),
    address: "",
    role: "agent",
    lastSeen: NOW,
    alive: true,
    capacity: { coder: 1, qa: 0, mergemaster: 0 },
  });
  // The rendezvous was last heard two minutes ago (on this node's monotonic clock).
  const watch = opts.reachable ? new RendezvousWatch(p, opts.reachable, p.clock.monotonic() - 120_000) : undefined;
  return new WorkLoop(ctx, watch, {
    acceptsWork: opts.accepts ?? (() => true),
    worktreeKept: () => undefined,
    createJob: (c, token, slot, role) => new HeldJob(c, token, slot, role),
  });
}

describe("the work loop (in-process, two replicas, injected clock)", () => {
  it("asks, is granted by the sequencer, starts the job with its token, and stops it when the claim moves", async () => {
    HeldJob.started = [];
    const r = new Replicas(2); // 0: rendezvous, 1: agent
    const A = nodeIdOf("a");
    const loop = agent(r.docs[1]!, r.claims[1]!, A, { reachable: () => true });
    const story = r.docs[0]!.createItem({ name: "Do it", stage: "current" });
    loop.pass(NOW);
    expect(r.docs[0]!.getItem(story.id)!.requests).toHaveProperty(A);
    new ClaimSequencer(r.claims[0]!, configOf(), silent).grant(NOW);
    loop.pass(NOW);
    expect(HeldJob.started.map((j) => j.token)).toEqual([{ id: story.id, node: A, epoch: 1, stage: "current" }]);
    expect(loop.running()).toEqual([story.id]);

    // An operator gives it to another node: the holder's token is stale, its job is stopped.
    r.docs[0]!.setOwnNode(nodeIdOf("b"), {
      label: "b",
      address: "",
      role: "agent",
      lastSeen: NOW,
      alive: true,
      capacity: { coder: 1, qa: 0, mergemaster: 0 },
    });
    r.claims[0]!.grant(story.id, nodeIdOf("b"), NOW);
    loop.pass(NOW);
    expect(HeldJob.started[0]!.stopped).toBe(true);
  });

  it("a paused node asks for nothing", () => {
    const r = new Replicas(1);
    const loop = agent(r.docs[0]!, r.claims[0]!, nodeIdOf("p"), { reachable: () => true, accepts: () => false });
    const story = r.docs[0]!.createItem({ name: "Waits", stage: "current" });
    loop.pass(NOW);
    expect(r.docs[0]!.getItem(story.id)!.requests).toEqual({});
  });

  it("without the rendezvous, partitioned nodes may both claim; after they meet one claim is left and the loser stops", () => {
    HeldJob.started = [];
    const clock = new ManualClock(NOW);
    const r = new Replicas(2, clock);
    const [A, B] = [nodeIdOf("x"), nodeIdOf("y")];
    const la = agent(r.docs[0]!, r.claims[0]!, A, { reachable: () => false });
    const lb = agent(r.docs[1]!, r.claims[1]!, B, { reachable: () => false });
    r.partition(0);
    const story = r.docs[1]!.createItem({ name: "Offline work", stage: "current" });
    r.heal();
    r.partition(0);
    // Each side sees only itself alive with a slot (the other's last heartbeat arrived 61 s ago), so both claim.
    clock.advance(61_000);
    const later = clock.now();
    r.docs[0]!.setOwnNode(A, { lastSeen: later });
    r.docs[1]!.setOwnNode(B, { lastSeen: later });
    la.pass(later);
    lb.pass(later);
    expect(HeldJob.started.map((j) => j.token.node).sort()).toEqual([A, B].sort());
    r.heal();
    la.pass(later);
    lb.pass(later);
    const holder = r.docs[0]!.getItem(story.id)!.claim!.node;
    const stopped = HeldJob.started.filter((j) => j.stopped).map((j) => j.token.node);
    expect(stopped).toEqual([holder === A ? B : A]);
  });

  it("the breaker between two starts of a step is measured on the monotonic clock: a wall clock stepped back an hour holds nothing", async () => {
    HeldJob.started = [];
    const clock = new ManualClock(NOW);
    const r = new Replicas(2, clock);
    const A = nodeIdOf("jump");
    const loop = agent(r.docs[1]!, r.claims[1]!, A, { reachable: () => true });
    const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
    const story = r.docs[0]!.createItem({ name: "Runs twice", stage: "current" });
    loop.pass(clock.now());
    seq.grant(clock.now());
    loop.pass(clock.now());
    expect(HeldJob.started).toHaveLength(1);
    // The job ends with the claim still held (as when its coder stopped early): the same step
    // may start again once restart_backoff_secs (5 s) has passed on this node.
    HeldJob.started[0]!.finish();
    await settle();
    clock.skewWall(-3_600_000);
    clock.advance(4_000);
    r.docs[1]!.setOwnNode(A, { lastSeen: clock.now() });
    loop.pass(clock.now());
    expect(HeldJob.started).toHaveLength(1);
    clock.advance(1_001);
    loop.pass(clock.now());
    expect(HeldJob.started.map((j) => j.storyId)).toEqual([story.id, story.id]);
  });

  describe("asking ahead while a job finishes", () => {
    /** Rendezvous (0) and agent A (1) with one coder slot, busy on a first story; a second waits. */
    function busyWithOne() {
      HeldJob.started = [];
      const r = new Replicas(2);
      const A = nodeIdOf("ahead");
      const loop = agent(r.docs[1]!, r.claims[1]!, A, { reachable: () => true });
      const seq = new ClaimSequencer(r.claims[0]!, configOf(), silent);
      const first = r.docs[0]!.createItem({ name: "First", stage: "current" });
      loop.pass(NOW);
      seq.grant(NOW);
      loop.pass(NOW);
      const next = r.docs[0]!.createItem({ name: "Next", stage: "current" });
      loop.pass(NOW);
      const mine = () => HeldJob.started.filter((j) => j.token.node === A);
      expect(mine().map((j) => j.storyId)).toEqual([first.id]);
      return { r, A, loop, seq, next, mine, job: mine()[0]! };
    }

    it("a busy node asks for nothing until its job is finishing, then asks and keeps the grant for the slot", async () => {
      const { r, A, loop, seq, next, mine, job } = busyWithOne();
      expect(r.docs[0]!.getItem(next.id)!.requests).toEqual({});

      job.nearlyDone(true);
      loop.pass(NOW);
      expect(r.docs[0]!.getItem(next.id)!.requests).toHaveProperty(A);
      seq.grant(NOW);
      loop.pass(NOW);
      // Granted while the slot is still busy: kept, not started and not given back.
      expect(mine()).toHaveLength(1);
      expect(r.docs[0]!.getItem(next.id)!.claim).toMatchObject({ node: A, epoch: 1 });

      r.claims[1]!.moveAs(job.token, "qa", { actor: "coder" }); // what a coder's last write does
      job.finish();
      await settle();
      loop.pass(NOW);
      expect(mine().map((j) => j.token)).toEqual([job.token, { id: next.id, node: A, epoch: 1, stage: "current" }]);
      await loop.stop();
    });

    it("a kept grant is given back when the finishing step fails, and when the node stops", async () => {
      const { r, loop, seq, next, mine, job } = busyWithOne();
      job.nearlyDone(true);
      loop.pass(NOW);
      seq.grant(NOW);
      loop.pass(NOW);
      expect(r.docs[0]!.getItem(next.id)!.claim).not.toBeNull();
      job.nearlyDone(false); // the push was rejected: the job goes on, the slot stays busy
      loop.pass(NOW);
      expect(r.docs[0]!.getItem(next.id)!.claim).toBeNull();
      expect(mine()).toHaveLength(1);

      job.nearlyDone(true);
      loop.pass(NOW);
      seq.grant(NOW);
      loop.pass(NOW);
      expect(r.docs[0]!.getItem(next.id)!.claim).not.toBeNull();
      await loop.stop();
      expect(r.docs[0]!.getItem(next.id)!.claim).toBeNull();
    });
  });
});
