import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { LiveConfig } from "../config/live-config.js";
import { huskiesDir } from "../config/project-root.js";
import { UserError } from "../errors.js";
import { logger } from "../log.js";
import { VERSION } from "../version.js";
import { Replica } from "../state/replica.js";
import { openSqliteStore } from "../state/sqlite-store.js";
import { Claims } from "../state/claims.js";
import { documentDigest } from "../state/digest.js";
import { loadOrCreateIdentity, type Identity } from "../sync/identity.js";
import { JoinTokenStore } from "../sync/join-tokens.js";
import { createSyncPolicy, type SyncPolicy } from "../sync/auth-policy.js";
import { LogRelay } from "../sync/log-relay.js";
import { SYNC_PATH } from "../sync/sync-server.js";
import { SyncService } from "../sync/sync-service.js";
import { StoryLogs } from "../runtime/story-log.js";
import { AgentPool } from "../runtime/agent-pool.js";
import { detectBaseBranch } from "../git/git.js";
import { AgentService } from "../agent/agent-service.js";
import { RendezvousWatch } from "../agent/rendezvous-watch.js";
import { serialize } from "../agent/job-context.js";
import { RendezvousService } from "../rendezvous/rendezvous-service.js";
import { registerWithGateway } from "../gateway/register.js";
import { isLoopbackHost } from "../server/admin-auth.js";
import type { Health } from "../server/http-app.js";
import { HttpService } from "../server/http-service.js";
import { OperatorActions } from "../server/operator-actions.js";
import { NodePause } from "./node-pause.js";
import { NodePresence } from "./node-presence.js";
import { OperatorDirectives } from "./operator-directives.js";

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
}

/** How long a starting agent waits for the rendezvous before deciding on its own replica. */
const FIRST_SYNC_WAIT_MS = 5000;

/**
 * One huskies process: a persisted replica composed with services that each have one lifecycle
 * (`SyncService`, `HttpService`, `RendezvousService` on the rendezvous, `AgentService` when it
 * runs slots) and its own entry in `nodes`. `serve` and `agent` are both this, with different roles.
 */
export class HuskiesNode {
  identity!: Identity;
  replica!: Replica;
  config!: LiveConfig;
  logs!: StoryLogs;
  pool!: AgentPool;
  claims!: Claims;
  sync!: SyncService;
  policy!: SyncPolicy;
  logRelay!: LogRelay;
  http!: HttpService;
  rendezvous: RendezvousService | undefined;
  agent: AgentService | undefined;
  presence!: NodePresence;
  pause!: NodePause;
  directives!: OperatorDirectives;
  baseBranch = "main";
  private readonly log = logger("node");
  private closing: Promise<void> | undefined;

  constructor(readonly opts: NodeOptions) {}

  get nodeId(): string {
    return this.identity.nodeId;
  }

  get port(): number {
    return this.http.port;
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
    this.replica = new Replica(store, { log: logger("state") });
    // Serving without persistence is worse than stopping: one clear line, exit non-zero.
    this.replica.on("fatal", (err) => {
      this.log.fatal({ file: store.file, err: err.message }, `replica store ${store.file} has failed for too long (${err.message}); exiting`);
      process.exit(1);
    });
    const pipeline = this.replica.pipeline;
    this.claims = new Claims(pipeline);
    const tokens = new JoinTokenStore(store.db);
    this.baseBranch = await detectBaseBranch(root, cfg.base_branch);
    this.logs = new StoryLogs(huskiesDir(root, "logs"), (id) => {
      const holder = pipeline.getItem(id)?.logNode;
      const addr = holder && holder !== this.nodeId ? pipeline.getNode(holder)?.address : undefined;
      return addr ? addr.replace(/^ws/, "http").replace(/\/crdt-sync$/, "") : undefined;
    });
    this.pool = new AgentPool(this.opts.runAgent ? this.config.agents.agent : [], this.opts.runAgent ? cfg.max_coders : 0);
    this.pause = new NodePause(this.config, logger("node"));
    // Directives come from the rendezvous this node follows (the key that answered on the
    // upstream link), or from itself when it is the rendezvous.
    this.directives = new OperatorDirectives(this.replica.doc, this.identity,
      (issuer) => issuer === this.nodeId || (!!this.sync?.upstream?.peerId && issuer === this.sync.upstream.peerId),
      (p) => (p ? this.pause.hold(p.reason, "operator") : this.pause.resume("an operator resumed it")), logger("node"));
    const actions = new OperatorActions(this.claims, {
      root, baseBranch: async () => this.baseBranch,
      nodes: role === "rendezvous" ? {
        pause: (id, reason) => this.directives.issue(id, { reason }),
        resume: (id) => this.directives.issue(id, null),
      } : undefined,
    });

    this.policy = createSyncPolicy({
      role, identity: this.identity, open, adminToken, tokens, doc: this.replica.doc,
      trustedKeys: () => this.config.project.trusted_keys,
    });
    this.sync = new SyncService({
      doc: this.replica.doc, pipeline, identity: this.identity, config: this.config, role, log: logger("sync"),
      policy: this.policy, persistence: this.replica,
      upstreamUrl: this.opts.rendezvousUrl ?? (role === "rendezvous" ? cfg.rendezvous : undefined),
      joinToken: this.opts.gatewayUrl ? undefined : this.opts.joinToken,
      bearer: process.env.HUSKIES_TOKEN || undefined,
    });
    this.logRelay = new LogRelay(this.sync.hub, { read: (id) => this.logs.read(id, { local: true }), follow: (id, cb) => this.logs.follow(id, cb) });
    this.http = new HttpService({
      info: { actions, logs: this.logs, slots: () => this.pool.states(), runs: () => this.pool.history() },
      tokens, health: () => this.health(), host: this.opts.host, port: this.opts.port, loopbackOnly, adminToken, role, writeGate: this.replica,
    });
    this.sync.attach(await this.http.start());

    this.presence = new NodePresence(pipeline, this.nodeId, this.config, () => ({
      label: this.label,
      address: this.address,
      role,
      capacity: { coder: this.pool.capacity("coder"), qa: this.pool.capacity("qa"), mergemaster: this.pool.capacity("mergemaster") },
      keptWorktrees: this.agent?.keptWorktrees().length ? this.agent.keptWorktrees() : undefined,
      paused: this.pause.state,
    }), this.log);
    this.presence.start();
    this.pause.on("change", () => {
      this.presence.beat();
      this.agent?.loop?.schedule();
    });
    this.directives.start();
    this.config.watch();
    this.config.on("change", () => {
      if (this.opts.runAgent) this.pool.configure(this.config.agents.agent, this.config.project.max_coders);
    });

    this.sync.start();
    // Once the rendezvous answered, its directives can be checked.
    this.sync.upstream?.on("connected", () => this.directives.check());
    if (this.opts.joinToken && this.opts.gatewayUrl) {
      void registerWithGateway(this.opts.gatewayUrl, { token: this.opts.joinToken, nodeId: this.nodeId, label: this.label, address: this.address }, this.log);
    }
    if (role === "rendezvous") {
      this.rendezvous = new RendezvousService(this.claims, this.config, logger("rendezvous"));
      this.rendezvous.start();
    }
    if (this.opts.runAgent) {
      this.agent = new AgentService({
        ctx: {
          root, nodeId: this.nodeId, pipeline, claims: this.claims, config: this.config, logs: this.logs,
          pool: this.pool, baseBranch: this.baseBranch, log: logger("agent"), mergeLock: serialize(),
        },
        watch: role === "agent" ? new RendezvousWatch(pipeline, () => !!this.sync.upstream?.connected) : undefined,
        ready: () => this.sync.waitForFirstSync(FIRST_SYNC_WAIT_MS),
        acceptsWork: () => this.pause.acceptsWork(),
        keptChanged: () => this.presence.beat(),
      });
      await this.agent.start();
    }
    this.log.info({ role, nodeId: this.nodeId, port: this.port, host: this.opts.host, open: this.policy.open, rendezvous: this.sync.upstream?.url ?? null }, "huskies node listening");
    return this;
  }

  health(): Health {
    const links = this.sync.status();
    return {
      nodeId: this.nodeId,
      role: this.opts.role,
      version: VERSION,
      label: this.label,
      ...links,
      running: this.agent?.running() ?? [],
      paused: this.pause.state,
      items: this.replica.pipeline.items.size,
      malformedEntries: this.replica.pipeline.malformedCount,
      digest: documentDigest(this.replica.doc),
    };
  }

  /** Stop accepting work, stop coders, mark this node not alive, flush, close. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.agent?.stop();
      this.rendezvous?.stop();
      this.directives.stop();
      this.pause.stop();
      this.presence.stop();
      await this.sync.stop();
      await this.config.close();
      await this.http.stop();
      this.replica.close();
    })();
    return this.closing;
  }
}
