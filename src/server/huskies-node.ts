import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import type { Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { LiveConfig } from "../config/live-config.js";
import { huskiesDir } from "../config/project-root.js";
import { UserError } from "../errors.js";
import { logger } from "../log.js";
import { VERSION } from "../version.js";
import { Replica } from "../state/replica.js";
import { openSqliteStore } from "../state/sqlite-store.js";
import { documentDigest } from "../state/digest.js";
import { createSyncPolicy, type SyncPolicy } from "../sync/auth-policy.js";
import { LogRelay } from "../sync/log-relay.js";
import { guardWrites } from "./store-guard.js";
import { loadOrCreateIdentity, type Identity } from "../sync/identity.js";
import { JoinTokenStore } from "../sync/join-tokens.js";
import { SyncHub } from "../sync/sync-hub.js";
import { attachSyncServer, SYNC_PATH } from "../sync/sync-server.js";
import { SyncClient } from "../sync/sync-client.js";
import { MeshManager } from "../sync/mesh.js";
import { StoryLogs } from "../runtime/story-log.js";
import { AgentPool } from "../runtime/agent-pool.js";
import { detectBaseBranch } from "../git/git.js";
import { BuildAgent } from "../agent/build-agent.js";
import { ClaimSequencer } from "../agent/claim-sequencer.js";
import { Housekeeping } from "../agent/housekeeping.js";
import { RendezvousWatch } from "../agent/rendezvous-watch.js";
import { PidRecords } from "../agent/pid-records.js";
import { reconcileWorktrees } from "../agent/reconcile.js";
import { serialize, type JobContext } from "../agent/job-context.js";
import { registerWithGateway } from "../gateway/register.js";
import { httpApp, type Health } from "./http-app.js";
import { isLoopbackHost } from "./admin-auth.js";
import { listen } from "./listen.js";
import { OperatorActions } from "./operator-actions.js";

export interface NodeOptions {
  root: string;
  /** `rendezvous` sequences claims and does housekeeping; `agent` follows a rendezvous. */
  role: "rendezvous" | "agent";
  port: number;
  host: string;
  rendezvousUrl?: string;
  joinToken?: string;
  gatewayUrl?: string;
  label?: string;
  runAgent: boolean;
  /** Extra routes (the MCP endpoint) for the server. */
  mount?: (app: Hono, node: HuskiesNode) => void;
}

/**
 * One huskies process: replica + `/crdt-sync` + HTTP, heartbeating into `nodes`, optionally
 * linked to a rendezvous and a mesh, optionally running the build-agent loop. `serve` and
 * `agent` are both this, with different roles.
 */
export class HuskiesNode {
  server!: Server;
  port = 0;
  identity!: Identity;
  replica!: Replica;
  hub!: SyncHub;
  config!: LiveConfig;
  actions!: OperatorActions;
  logs!: StoryLogs;
  pool!: AgentPool;
  agent: BuildAgent | undefined;
  rendezvous: SyncClient | undefined;
  mesh: MeshManager | undefined;
  tokens!: JoinTokenStore;
  policy!: SyncPolicy;
  logRelay!: LogRelay;
  baseBranch = "main";
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly log = logger("node");
  private closing: Promise<void> | undefined;

  constructor(readonly opts: NodeOptions) {}

  get nodeId(): string {
    return this.identity.nodeId;
  }

  get label(): string {
    return this.opts.label ?? `${this.opts.role === "rendezvous" ? "server" : "build-agent"}-${this.nodeId.slice(0, 8)}`;
  }

  get address(): string {
    const h = this.opts.host === "0.0.0.0" || this.opts.host === "::" ? hostname() : this.opts.host;
    return `ws://${h.includes(":") ? `[${h}]` : h}:${this.port}${SYNC_PATH}`;
  }

  async start(): Promise<this> {
    const { root, role } = this.opts;
    this.config = new LiveConfig(root);
    const cfg = this.config.project;
    const loopbackOnly = isLoopbackHost(this.opts.host);
    const adminToken = process.env.HUSKIES_ADMIN_TOKEN || undefined;
    const open = cfg.auth === "open" || (cfg.auth === "auto" && loopbackOnly && cfg.trusted_keys.length === 0);
    if (!open && !loopbackOnly && !adminToken && cfg.trusted_keys.length === 0) {
      throw new UserError(`refusing to listen on ${this.opts.host} without authentication: set HUSKIES_ADMIN_TOKEN or trusted_keys in .huskies/project.toml (or auth = "open" to accept anyone)`);
    }
    mkdirSync(huskiesDir(root), { recursive: true });
    this.identity = loadOrCreateIdentity(huskiesDir(root, "node.key"));
    const store = openSqliteStore(huskiesDir(root, "replica.db"), { warn: (msg, fields) => this.log.warn(fields, msg) });
    this.replica = new Replica(store);
    // Serving without persistence is worse than stopping: one clear line, exit non-zero.
    this.replica.on("fatal", (err) => {
      this.log.fatal({ file: store.file, err: err.message }, `replica store ${store.file} has failed for too long (${err.message}); exiting`);
      process.exit(1);
    });
    this.tokens = new JoinTokenStore(store.db);
    this.hub = new SyncHub(this.replica.doc, logger("sync"), this.replica);
    this.policy = createSyncPolicy({
      role, identity: this.identity, open, adminToken, tokens: this.tokens, doc: this.replica.doc,
      trustedKeys: () => this.config.project.trusted_keys,
    });
    this.policy.enforce(this.hub);
    this.baseBranch = await detectBaseBranch(root, cfg.base_branch);
    const pipeline = this.replica.pipeline;
    this.logs = new StoryLogs(huskiesDir(root, "logs"), (id) => {
      const holder = pipeline.getItem(id)?.logNode;
      const addr = holder && holder !== this.nodeId ? pipeline.getNode(holder)?.address : undefined;
      return addr ? addr.replace(/^ws/, "http").replace(/\/crdt-sync$/, "") : undefined;
    });
    this.actions = new OperatorActions(pipeline, { root, baseBranch: async () => this.baseBranch });
    const app = httpApp({
      actions: this.actions, logs: this.logs, tokens: this.tokens, health: () => this.health(),
      loopbackOnly, adminToken, mount: this.opts.mount ? (a) => this.opts.mount!(a, this) : undefined,
    });
    const listening = await listen(getRequestListener(guardWrites(this.replica, app.fetch)), this.opts.port, this.opts.host);
    this.server = listening.server;
    this.port = listening.port;
    attachSyncServer(this.server, this.hub, { policy: this.policy, maxFrameBytes: cfg.max_frame_bytes });
    this.logRelay = new LogRelay(this.hub, { read: (id) => this.logs.read(id, { local: true }), follow: (id, cb) => this.logs.follow(id, cb) });

    this.pool = new AgentPool(this.opts.runAgent ? this.config.agents.agent : [], this.opts.runAgent ? cfg.max_coders : 0);
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), cfg.scan_interval_secs * 1000);
    this.config.watch();
    this.config.on("change", () => {
      if (this.opts.runAgent) this.pool.configure(this.config.agents.agent, this.config.project.max_coders);
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.beat(), this.config.project.scan_interval_secs * 1000);
      this.mesh?.restartTimer();
      this.mesh?.schedule();
      this.beat();
    });

    const upstream = this.opts.rendezvousUrl ?? (role === "rendezvous" ? cfg.rendezvous : undefined);
    const viaGateway = !!(this.opts.joinToken && this.opts.gatewayUrl);
    if (upstream) {
      this.rendezvous = new SyncClient({
        url: upstream, hub: this.hub, identity: this.identity, maxFrameBytes: cfg.max_frame_bytes,
        joinToken: viaGateway ? undefined : this.opts.joinToken, token: process.env.HUSKIES_TOKEN || undefined, upstream: true,
        expectedPeer: role === "agent" ? () => this.policy.rendezvousKey() : undefined,
        admission: () => this.policy.credential(),
        // The certificate was verified against the key that just proved itself (and matched any expected key).
        onAdmission: (cert) => { this.policy.learnRendezvous(cert.issuer); this.policy.setCredential(cert); },
      });
      // Trust on first use until the lead's rendezvous.json pins it.
      this.rendezvous.on("connected", () => this.policy.learnRendezvous(this.rendezvous!.peerId!));
      if (role === "agent") {
        this.hub.selfLinked = () => !!this.rendezvous?.connected;
        this.rendezvous.on("connected", () => this.hub.announce());
        this.rendezvous.on("disconnected", () => this.hub.announce());
      }
      this.rendezvous.start();
    }
    if (viaGateway) void registerWithGateway(this.opts.gatewayUrl!, { token: this.opts.joinToken!, nodeId: this.nodeId, label: this.label, address: this.address }, this.log);
    if (role === "agent") {
      this.mesh = new MeshManager(pipeline, this.hub, this.identity, () => ({
        maxPeers: this.config.project.max_mesh_peers,
        scanIntervalMs: this.config.project.mesh_scan_interval_secs * 1000,
        nodeAliveMs: this.config.project.node_alive_secs * 1000,
      }), cfg.max_frame_bytes, this.policy);
    }
    if (role === "rendezvous") {
      new ClaimSequencer(pipeline, this.config).schedule();
      new Housekeeping(pipeline, this.config).schedule();
    }
    if (this.opts.runAgent) await this.startAgent();
    this.log.info({ role, nodeId: this.nodeId, port: this.port, host: this.opts.host, open: this.policy.open, rendezvous: upstream ?? null }, "huskies node listening");
    return this;
  }

  private async startAgent(): Promise<void> {
    const pids = new PidRecords(huskiesDir(this.opts.root, "running.json"));
    const orphans = await pids.killOrphans();
    if (orphans.length) this.log.warn({ stories: orphans }, "killed coders left running by a previous run");
    const ctx: JobContext = {
      root: this.opts.root, nodeId: this.nodeId, pipeline: this.replica.pipeline, config: this.config, logs: this.logs,
      pool: this.pool, baseBranch: this.baseBranch, log: logger("agent"), mergeLock: serialize(),
      trackPid: (id, pid) => pids.set(id, pid),
    };
    const watch = this.opts.role === "agent" ? new RendezvousWatch(this.replica.pipeline, () => !!this.rendezvous?.connected) : undefined;
    if (this.rendezvous) await this.waitForFirstSync(5000);
    const result = await reconcileWorktrees(ctx).catch((err) => {
      this.log.error({ err: (err as Error).message }, "worktree reconcile failed");
      return undefined;
    });
    if (result && (result.pushed.length || result.released.length || result.removed.length)) this.log.info(result, "worktrees reconciled");
    this.agent = new BuildAgent(ctx, watch);
    this.agent.start();
  }

  /** Give the rendezvous a moment so a restart decides on fresh state, without blocking offline starts. */
  private waitForFirstSync(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.rendezvous!.synced) return resolve();
      const t = setTimeout(resolve, ms);
      this.rendezvous!.once("synced", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private beat(): void {
    this.replica.pipeline.setNode(this.nodeId, {
      label: this.label,
      address: this.address,
      role: this.opts.role,
      lastSeen: Date.now(),
      alive: true,
      capacity: { coder: this.pool.capacity("coder"), qa: this.pool.capacity("qa"), mergemaster: this.pool.capacity("mergemaster") },
    });
  }

  health(): Health {
    const doc = this.replica.doc;
    return {
      nodeId: this.nodeId,
      role: this.opts.role,
      version: VERSION,
      label: this.label,
      rendezvous: { url: this.rendezvous?.url ?? null, connected: !!this.rendezvous?.connected },
      mesh: { peers: this.mesh?.peers() ?? [], connected: this.mesh?.connectedPeers() ?? [], max: this.config.project.max_mesh_peers },
      running: this.agent?.running() ?? [],
      items: this.replica.pipeline.items.size,
      digest: documentDigest(doc),
    } as Health;
  }

  /** Stop accepting work, stop coders, mark this node not alive, flush, close. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.agent?.shutdown();
      clearInterval(this.heartbeat);
      this.replica.pipeline.setNode(this.nodeId, { alive: false, lastSeen: Date.now() });
      await this.flushUpstream(2000);
      this.mesh?.stop();
      this.rendezvous?.stop();
      this.hub.closeAll();
      await this.config.close();
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
      this.replica.close();
    })();
    return this.closing;
  }

  /** Wait (briefly) until the last writes have left for the rendezvous. */
  private async flushUpstream(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.rendezvous && this.rendezvous.bufferedAmount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}
