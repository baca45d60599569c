import * as Y from "yjs";
import type { AgentSlot } from "../src/config/agents-config.js";
import type { LiveConfig } from "../src/config/live-config.js";
import { MAX_FRAME_BYTES } from "../src/config/defaults.js";
import { serialize, type JobContext } from "../src/agent/job-context.js";
import { RendezvousWatch } from "../src/agent/rendezvous-watch.js";
import { StoryJob } from "../src/agent/story-job.js";
import { WorkLoop } from "../src/agent/work-loop.js";
import { NodePresence } from "../src/node/node-presence.js";
import type { Role } from "../src/pipeline/roles.js";
import { AgentPool } from "../src/runtime/agent-pool.js";
import type { StoryLogs } from "../src/runtime/story-log.js";
import { Claims, type ClaimToken } from "../src/state/claims.js";
import { nodeSignatures } from "../src/trust/node-signatures.js";
import { PipelineDoc } from "../src/state/pipeline-doc.js";
import { ItemAuthority } from "../src/trust/item-authority.js";
import type { WriteAuthority } from "../src/state/write-authority.js";
import { ephemeralIdentity } from "../src/trust/identity.js";
import { SyncClient } from "../src/sync/sync-client.js";
import { SyncHub } from "../src/sync/sync-hub.js";
import { silent } from "../test/support/in-process.js";

/** What every simulated agent reports to the benchmark. */
export interface SimEvents {
  /**
   * A claim naming this agent was seen and its job started (at `seenAt`, wall clock); `latencyMs`
   * from this agent's request, when the grant followed one (an offered grant has none).
   */
  granted(agent: SimAgent, storyId: string, latencyMs: number | undefined, seenAt: number): void;
  /** The instant coder moved the story to qa. */
  submitted(agent: SimAgent, storyId: string): void;
}

/** Claims that remember when this agent asked for each item (the start of the grant latency). */
class TimedClaims extends Claims {
  readonly requestedAt = new Map<string, number>();

  override request(id: string, node: string, now = Date.now()): void {
    this.requestedAt.set(id, performance.now());
    super.request(id, node, now);
  }
}

/** A heartbeat that counts itself, so a phase knows how many beats the rendezvous received. */
class CountingPresence extends NodePresence {
  beats = 0;

  override beat(now = Date.now()): void {
    this.beats += 1;
    super.beat(now);
  }
}

/** A coder that finishes at once: it submits the story to qa with its claim token. */
class InstantCoder extends StoryJob {
  constructor(
    ctx: JobContext,
    token: ClaimToken,
    slot: AgentSlot,
    role: Role,
    private readonly done: () => void,
  ) {
    super(ctx, token, slot, role);
  }

  async work(): Promise<void> {
    if (this.ctx.claims.moveAs(this.token, "qa", { actor: "coder" })) this.done();
  }
}

/**
 * One simulated build agent, in-process: its own Ed25519 key, its own replica (`PipelineDoc` +
 * `Claims`), a real `SyncClient` over a real WebSocket to the rendezvous, the real `WorkLoop`
 * (requests, grants, conflict detection) with an instant coder, and the real `NodePresence`
 * heartbeat at the configured interval, started at `beatOffsetMs` so a fleet's beats are spread
 * over the interval rather than arriving in one burst.
 */
export class SimAgent {
  readonly nodeId: string;
  readonly pipeline: PipelineDoc;
  private readonly claims: TimedClaims;
  private readonly client: SyncClient;
  private readonly presence: CountingPresence;
  private readonly loop: WorkLoop;
  private readonly watch: RendezvousWatch;
  private beatTimer: NodeJS.Timeout | undefined;

  constructor(opts: {
    url: string;
    /** The replica this agent starts from (a placeholder or the real filler). */
    initial: Uint8Array;
    config: LiveConfig;
    root: string;
    logs: StoryLogs;
    label: string;
    events: SimEvents;
  }) {
    const identity = ephemeralIdentity();
    this.nodeId = identity.nodeId;
    const doc = new Y.Doc();
    Y.applyUpdate(doc, opts.initial, "store");
    // Each agent signs its node entry like every node (the rendezvous checks every one), but takes
    // its simulated peers' entries on trust: a real agent checks each peer's heartbeat on its own
    // machine (~0.2 ms each), while 200 agents in one process checking each other would spend
    // 40 000 checks per heartbeat interval of this process' CPU on what is nobody's cost in reality.
    const signatures = nodeSignatures(identity);
    // Its item writes are signed like a real agent's (the rendezvous checks them); it reads the
    // rendezvous' writes on trust, for the same reason as the node entries.
    const signer = new ItemAuthority(identity, () => false);
    const authority: WriteAuthority = {
      signClaim: (id, claim) => signer.signClaim(id, claim),
      seal: (id, m, groups, author) => signer.seal(id, m, groups, author),
      read: (_id, m) => m,
      recheck: () => undefined,
      forget: () => undefined,
    };
    this.pipeline = new PipelineDoc(doc, { log: silent, signatures: { sign: signatures.sign, verify: () => true }, authority });
    this.claims = new TimedClaims(this.pipeline);
    const hub = new SyncHub(doc, silent);
    this.client = new SyncClient({ url: opts.url, hub, identity, maxFrameBytes: MAX_FRAME_BYTES, upstream: true });
    hub.selfLinked = () => this.client.connected;
    const pool = new AgentPool(opts.config.agents.agent, opts.config.project.max_coders);
    this.presence = new CountingPresence(
      this.pipeline,
      this.nodeId,
      opts.config,
      () => ({
        label: opts.label,
        address: "",
        role: "agent",
        capacity: { coder: pool.capacity("coder"), qa: pool.capacity("qa"), mergemaster: pool.capacity("mergemaster") },
        paused: null,
      }),
      silent,
    );
    const ctx: JobContext = {
      root: opts.root,
      nodeId: this.nodeId,
      pipeline: this.pipeline,
      claims: this.claims,
      config: opts.config,
      logs: opts.logs,
      pool,
      baseBranch: "main",
      log: silent,
      mergeLock: serialize(),
      trackPid: () => undefined,
      // An instant coder never fails for the node's sake.
      health: { nodeFailure: () => undefined, nearLimit: () => undefined, succeeded: () => undefined },
    };
    this.watch = new RendezvousWatch(this.pipeline, () => this.client.connected);
    this.loop = new WorkLoop(ctx, this.watch, {
      acceptsWork: () => true,
      worktreeKept: () => undefined,
      createJob: (c, token, slot, role) => {
        const asked = this.claims.requestedAt.get(token.id);
        opts.events.granted(this, token.id, asked === undefined ? undefined : performance.now() - asked, Date.now());
        return new InstantCoder(c, token, slot, role, () => opts.events.submitted(this, token.id));
      },
    });
  }

  get beats(): number {
    return this.presence.beats;
  }

  /** Connect, wait for the first sync, announce itself, start working; beats spread from `beatOffsetMs`. */
  async start(beatOffsetMs: number): Promise<void> {
    const synced = new Promise<void>((resolve) => this.client.once("synced", () => resolve()));
    this.client.start();
    await synced;
    this.presence.beat();
    this.loop.start();
    this.beatTimer = setTimeout(() => this.presence.start(), beatOffsetMs);
  }

  /** Leave without ceremony (the benchmark is over): no more timers, the link closed. */
  stop(): void {
    clearTimeout(this.beatTimer);
    this.client.stop();
    this.watch.stop();
    void this.loop.stop().catch(() => undefined);
    this.presence.stop();
  }
}
