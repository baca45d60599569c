import { existsSync, mkdirSync } from "node:fs";
import { basename } from "node:path";
import { LiveConfig } from "../config/live-config.js";
import { huskiesDir } from "../config/project-root.js";
import { UserError } from "../errors.js";
import { logger } from "../log.js";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../version.js";
import { documentSchema, SCHEMA } from "../state/migrations/index.js";
import { Replica } from "../state/replica.js";
import { openSqliteStore } from "../state/sqlite-store.js";
import { Claims } from "../state/claims.js";
import { readOnlyAware, SchemaGuard } from "../state/schema-guard.js";
import { documentDigest } from "../state/digest.js";
import { nodeSignatures } from "../trust/node-signatures.js";
import { loadOrCreateIdentity, type Identity } from "../trust/identity.js";
import { JoinTokenStore } from "../trust/join-tokens.js";
import { createSyncPolicy, type SyncPolicy } from "../trust/auth-policy.js";
import { LogRelay } from "../sync/log-relay.js";
import { SyncService } from "../sync/sync-service.js";
import { StoryLogs } from "../runtime/story-log.js";
import { AgentPool } from "../runtime/agent-pool.js";
import { preflightSlots } from "../runtime/preflight.js";
import { Confinement } from "../confinement/confine.js";
import { configureGit, detectBaseBranch } from "../git/git.js";
import { AgentService } from "../agent/agent-service.js";
import { RendezvousWatch } from "../agent/rendezvous-watch.js";
import { serialize } from "../agent/job-context.js";
import { RendezvousService } from "../rendezvous/rendezvous-service.js";
import { registerWithGateway } from "../gateway/register.js";
import { certificateFingerprint, JoinIssuer } from "../server/join-issuer.js";
import { isLoopbackHost } from "../server/request-guard.js";
import type { TlsMaterial } from "../server/tls-files.js";
import type { Health } from "../server/http-app.js";
import { HttpService } from "../server/http-service.js";
import { OperatorActions, type AccountsView } from "../server/operator-actions.js";
import { NodePause } from "./node-pause.js";
import { NodePresence } from "./node-presence.js";
import { metricsRoute, type Metrics } from "../server/metrics.js";
import { nodeMetrics, replicaSizer } from "./node-metrics.js";
import { relayedLogs } from "./remote-logs.js";
import { diffRoutes } from "../server/diff-routes.js";
import { TrustStore } from "../trust/trust-store.js";
import { OperatorDirectives } from "./operator-directives.js";
import { AdvertisedAddress } from "./advertised-address.js";
import { keyAdmitter, upstreamOf } from "./join.js";
import type { SlotAccounts } from "../agent/slot-accounts.js";
import { NodeAccounts } from "./node-accounts.js";
import { registerAccountMetrics } from "./account-metrics.js";
import type { PauseState } from "../state/item.js";
import { ReplicaFence } from "./replica-fence.js";
import { acquireCheckoutLock, type CheckoutLock } from "./checkout-lock.js";
import { IdempotencyKeys } from "../server/idempotency.js";
import { ItemAuthority } from "../trust/item-authority.js";
import { OperatorKeys } from "../trust/operator-keys.js";
import { readHandoverFile } from "../trust/handover-file.js";
import { mayFollowHandover } from "../trust/follow-handover.js";
import { TrustState } from "../trust/trust-state.js";
import { verifyCounts } from "../trust/verify-cache.js";
import { adoptUnsignedItems, ForgeryRepair } from "../rendezvous/forgery-repair.js";
import { OwnWriteReassert } from "../trust/own-write-reassert.js";

export interface NodeOptions {
  root: string;
  /** `rendezvous` sequences claims and does housekeeping; `agent` follows a rendezvous. */
  role: "rendezvous" | "agent";
  port: number;
  /** Address to listen on. Default: 127.0.0.1, or for an agent whose rendezvous is not on loopback 0.0.0.0. */
  host?: string;
  /** A join string (`huskies agent --join`): the rendezvous or a gateway, pinned. */
  join?: string;
  rendezvousUrl?: string;
  joinToken?: string;
  gatewayUrl?: string;
  label?: string;
  runAgent: boolean;
  /** Serve https:// and wss:// with this certificate and key. */
  tls?: TlsMaterial;
  /** The URL other hosts reach this node by; the request guard accepts its host. */
  advertise?: string;
  /**
   * `huskies serve --accept-empty`: a rendezvous whose replica was lost takes writes at once, on
   * what it has (see ReplicaFence). Without it, it waits for an agent to sync with it.
   */
  acceptEmpty?: boolean;
  /** A permanent failure (the pinned rendezvous showed another certificate or key): the caller stops the process. */
  onFatal?: (err: UserError) => void;
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
  metrics!: Metrics;
  pause!: NodePause;
  /** Starts every process a story controls (agents, gates) under the one policy. */
  confinement: Confinement | undefined;
  directives!: OperatorDirectives;
  nodeAccounts!: NodeAccounts;
  accounts!: SlotAccounts;
  /** Refuses writes while a rendezvous' lost replica waits for a sync (see ReplicaFence). */
  fence!: ReplicaFence;
  /** Signs this node's item writes and checks everyone's (src/trust/write-rights.ts). */
  authority!: ItemAuthority;
  operators!: OperatorKeys;
  private repair: ForgeryRepair | undefined;
  private reassert: OwnWriteReassert | undefined;
  private trustState!: TrustState;
  schema!: SchemaGuard;
  /** The board's chat (the rendezvous only). */
  chat: import("../chat/chat-service.js").ChatService | undefined;
  baseBranch = "main";
  /** The address this node listens on (see NodeOptions.host). */
  host = "127.0.0.1";
  /** SHA-256 of this node's TLS certificate, published in its entry so mesh peers can pin it. */
  tlsFingerprint: string | undefined;
  private advertised!: AdvertisedAddress;
  private readonly log = logger("node");
  private closing: Promise<void> | undefined;
  private lock: CheckoutLock | undefined;

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

  /** The `/crdt-sync` URL other hosts dial (see advertised-address.ts). */
  get address(): string {
    return this.advertised.current();
  }

  async start(): Promise<this> {
    const { root, role } = this.opts;
    this.config = new LiveConfig(root);
    const cfg = this.config.project;
    const adminToken = process.env.HUSKIES_ADMIN_TOKEN || undefined;
    const openIf = (loopbackOnly: boolean) => cfg.auth === "open" || (cfg.auth === "auto" && loopbackOnly && cfg.trusted_keys.length === 0);
    // Only the rendezvous can run open; an agent's listeners always want an admitted key.
    if (role === "rendezvous") {
      const host = this.opts.host ?? "127.0.0.1";
      if (!openIf(isLoopbackHost(host)) && !isLoopbackHost(host) && !adminToken && cfg.trusted_keys.length === 0) {
        throw new UserError(
          `refusing to listen on ${host} without authentication: set HUSKIES_ADMIN_TOKEN or trusted_keys in .huskies/project.toml (or auth = "open" to accept anyone)`,
        );
      }
    }
    mkdirSync(huskiesDir(root), { recursive: true });
    // One process per checkout: a second one would run as the same node on the same replica and worktrees.
    this.lock = acquireCheckoutLock(huskiesDir(root, "node.lock"), role === "rendezvous" ? "huskies serve" : "huskies agent");
    if (this.lock.tookOver) this.log.warn({ reason: this.lock.tookOver }, "took over a stale checkout lock");
    // A node key from an earlier run means this checkout held a replica: one missing now was lost.
    const ranBefore = existsSync(huskiesDir(root, "node.key"));
    configureGit({ timeoutMs: cfg.git_timeout_secs * 1000 });
    this.identity = loadOrCreateIdentity(huskiesDir(root, "node.key"));
    const trust = new TrustStore(root, this.log);
    const upstream = await upstreamOf({ ...this.opts, label: this.label, configured: cfg.rendezvous }, this.identity, trust, this.log);
    this.host =
      this.opts.host ?? (role === "agent" && upstream && !isLoopbackHost(new URL(upstream.url).hostname) ? "0.0.0.0" : "127.0.0.1");
    const loopbackOnly = isLoopbackHost(this.host);
    const open = openIf(loopbackOnly);
    this.tlsFingerprint = this.opts.tls ? certificateFingerprint(this.opts.tls.cert) : undefined;
    const publicUrls = () => this.config.project.public_urls;
    this.advertised = new AdvertisedAddress({
      role,
      explicit: this.opts.advertise,
      boundHost: this.host,
      tls: !!this.opts.tls,
      port: () => this.port,
      publicUrls,
    });
    const store = openSqliteStore(huskiesDir(root, "replica.db"), {
      warn: (msg, fields) => this.log.warn(fields, msg),
      expectData: ranBefore,
    });
    const pinnedKey = trust.rendezvous()?.nodeId;
    this.operators = new OperatorKeys(
      () => (role === "rendezvous" ? this.identity.nodeId : (this.policy?.rendezvousKey() ?? pinnedKey)),
      () => this.config.project.operator_keys,
    );
    this.authority = new ItemAuthority(this.identity, (key) => this.operators.has(key));
    this.replica = new Replica(store, { log: logger("state"), signatures: nodeSignatures(this.identity), authority: this.authority });
    // What this node held before a restart is the floor a replayed older record must not go under
    // (remembered now, verified on first use).
    this.authority.prime(this.replica.pipeline.items);
    // After the replica: a damaged replica file is replaced while it loads (store.db changes).
    this.trustState = new TrustState(store.db);
    // Serving without persistence is worse than stopping: one clear line, exit non-zero.
    this.replica.on("fatal", (err) => {
      this.log.fatal(
        { file: store.file, err: err.message },
        `replica store ${store.file} has failed for too long (${err.message}); exiting`,
      );
      process.exit(1);
    });
    const pipeline = this.replica.pipeline;
    this.schema = new SchemaGuard(pipeline, {
      migrate: role === "rendezvous",
      // A new project's empty document is stamped at once; a replica that lost what it held waits
      // for the items (and their schema) to come back from the agents.
      stampEmpty: () => !this.replica.suspect,
      log: logger("state"),
      identity: role === "rendezvous" ? this.identity : undefined,
      isOperator: (key) => this.operators.has(key),
      countUnverified: (key) => this.authority.countUnverified(key),
    });
    this.schema.start();
    this.claims = new Claims(pipeline);
    const tokens = new JoinTokenStore(store.db);
    const idempotency = role === "rendezvous" ? new IdempotencyKeys(store.db, logger("http"), () => this.replica.writable) : undefined;
    // An answer remembered while the store failed is written with the updates that waited.
    if (idempotency) this.replica.on("writable", () => idempotency.flush());
    this.baseBranch = await detectBaseBranch(root, cfg.base_branch);
    this.logs = new StoryLogs(
      huskiesDir(root, "logs"),
      relayedLogs(
        pipeline,
        this.nodeId,
        () => this.sync.hub,
        () => this.logRelay,
      ),
    );
    this.metrics = nodeMetrics({
      pipeline,
      config: this.config,
      links: () => this.sync.linkCounts(),
      storeFile: store.file,
      authority: this.authority,
    });
    this.pool = new AgentPool(this.opts.runAgent ? this.config.agents.agent : [], this.opts.runAgent ? cfg.max_coders : 0);
    this.pause = new NodePause(this.config, logger("node"));
    // Accounts and budgets (issue 28): entries count only when signed by a node of this project.
    this.nodeAccounts = new NodeAccounts(this.replica.doc, this.identity, this.config, {
      // A revoked key's entries stop counting at once (its node entry may linger in the document).
      known: (id) => id === this.nodeId || (!!pipeline.getNode(id) && !this.policy?.isRevoked(id)),
      runs: () => (this.opts.runAgent ? this.config.agents.agent : []),
      // The node's entry may show another pause now, and a slot may be free again.
      changed: () => {
        this.presence?.beat();
        this.agent?.loop?.schedule();
      },
      log: logger("node"),
    });
    this.accounts = this.nodeAccounts.slots;
    this.pool.usable = (slot) => this.accounts.usable(slot);
    registerAccountMetrics(this.metrics.registry, () => this.accountsView());
    // Directives come from the rendezvous this node follows (the key that answered on the
    // upstream link), or from itself when it is the rendezvous.
    this.directives = new OperatorDirectives(
      this.replica.doc,
      this.identity,
      (issuer) => issuer === this.nodeId || this.operators.has(issuer),
      (p) => (p ? this.pause.hold(p.reason, "operator") : this.pause.resume("an operator resumed it")),
      logger("node"),
      this.trustState,
      (key) => this.authority.countUnverified(key),
    );
    const joinIssuer = new JoinIssuer({
      nodeId: this.identity.nodeId,
      cert: this.opts.tls?.cert,
      boundHost: this.host,
      port: () => this.port,
      publicUrls,
    });
    const actions = new OperatorActions(this.claims, {
      root,
      accounts: () => this.accountsView(),
      nodeAliveMs: () => this.config.project.node_alive_secs * 1000,
      baseBranch: async () => this.baseBranch,
      logs: this.logs,
      config: this.config,
      joins:
        role === "rendezvous"
          ? (ttlSecs, host) => {
              const created = tokens.create(ttlSecs);
              // The join string carries this server's URL, key and certificate fingerprint with the token.
              return { ...created, join: joinIssuer.issue(host, created.token) };
            }
          : undefined,
      nodes:
        role === "rendezvous"
          ? {
              pause: (id, reason) => this.directives.issue(id, { reason }),
              resume: (id) => this.directives.issue(id, null),
              revoke: (id) => this.revoke(id),
            }
          : undefined,
    });

    const info = { actions, logs: this.logs, slots: () => this.pool.states(), runs: () => this.pool.history() };
    // The board's chat lives on the rendezvous (it loads the MCP SDK, which agents never do).
    if (role === "rendezvous") {
      const { ChatService } = await import("../chat/chat-service.js");
      this.chat = new ChatService({
        root,
        project: basename(root),
        config: this.config,
        node: info,
        log: logger("chat"),
        confinement: () => this.confinement,
      });
    }
    const chatRoutes = this.chat ? (await import("../chat/chat-routes.js")).chatRoutes(this.chat) : undefined;
    const upstreamUrl = upstream?.url;
    this.policy = createSyncPolicy({
      role,
      identity: this.identity,
      open,
      adminToken,
      tokens,
      doc: this.replica.doc,
      trustedKeys: () => this.config.project.trusted_keys,
      rendezvousKey: trust.rendezvous()?.nodeId,
      admission: trust.admission(),
      operatorKeys: () => this.config.project.operator_keys,
      revocationStore: this.trustState,
      admissionTtlMs: () => this.config.project.admission_ttl * 1000,
      onUnverified: (key) => this.authority.countUnverified(key),
      handover: role === "rendezvous" ? readHandoverFile(huskiesDir(root), this.identity.nodeId) : undefined,
    });
    this.sync = new SyncService({
      doc: this.replica.doc,
      pipeline,
      identity: this.identity,
      config: this.config,
      role,
      log: logger("sync"),
      policy: this.policy,
      persistence: this.replica,
      upstreamUrl,
      onTrustChange: () => {
        trust.persist(this.policy, upstreamUrl, role);
        // The rendezvous key may be new: what it signed counts from now on.
        pipeline.recheck();
        this.directives.check();
      },
      followHandover: (answered, handover) => {
        const pin = trust.rendezvous();
        const pinned = this.policy.rendezvousKey() ?? answered;
        const verdict = mayFollowHandover(handover, { pinned, answered, followedAt: pin?.handoverAt, keys: this.operators });
        if (!verdict.ok || !handover || !upstreamUrl) return verdict;
        // Pinned before the handshake proves the key: an operator signed this, whoever relays it.
        trust.saveRendezvous({ ...(pin ?? { url: upstreamUrl }), nodeId: answered, handoverAt: handover.at });
        this.policy.follow(answered);
        pipeline.recheck();
        this.directives.check();
        return verdict;
      },
      joinToken: upstream?.joinToken,
      upstreamPin: upstream?.pin,
      bearer: process.env.HUSKIES_TOKEN || undefined,
      documentBytes: replicaSizer(store.file),
    });
    this.fence = new ReplicaFence(this.replica, { role, acceptEmpty: this.opts.acceptEmpty, hub: this.sync.hub, log: this.log });
    this.logRelay = new LogRelay(this.sync.hub, {
      read: (id) => this.logs.read(id, { local: true }),
      follow: (id, cb) => this.logs.follow(id, cb),
    });
    this.http = new HttpService({
      info,
      tokens,
      health: () => this.health(),
      host: this.host,
      port: this.opts.port,
      join: joinIssuer,
      admit: keyAdmitter(tokens, (id) => this.policy.isRevoked(id), this.log),
      idempotency,
      loopbackOnly,
      adminToken,
      role,
      writeGate: readOnlyAware(pipeline, this.fence),
      // HTTP reads follow the node's auth mode (open loopback: no token), also on an agent whose
      // sync listener always wants an admitted key: loopback users own the machine either way.
      open,
      config: this.config,
      tls: this.opts.tls,
      advertise: this.opts.advertise,
      routes: (app) => {
        app.route("/", metricsRoute(this.metrics));
        if (role === "rendezvous")
          app.route("/api", diffRoutes({ root, baseBranch: () => this.baseBranch, hasStory: (id) => !!pipeline.getItem(id) }));
        if (chatRoutes) app.route("/api", chatRoutes);
      },
    });
    this.sync.attach(await this.http.start(), (req) => this.http.guard.checkUpgrade(req));

    this.presence = new NodePresence(
      pipeline,
      this.nodeId,
      this.config,
      () => ({
        label: this.label,
        address: this.address,
        fingerprint: this.tlsFingerprint,
        role,
        capacity: { coder: this.pool.capacity("coder"), qa: this.pool.capacity("qa"), mergemaster: this.pool.capacity("mergemaster") },
        keptWorktrees: this.agent?.keptWorktrees().length ? this.agent.keptWorktrees() : undefined,
        paused: this.effectivePause(),
        version: VERSION,
        protocol: PROTOCOL,
      }),
      this.log,
    );
    this.presence.start();
    this.pause.on("change", () => {
      this.presence.beat();
      this.agent?.loop?.schedule();
    });
    this.directives.start();
    // Every node, the rendezvous too: a write of ours the document lost to an older one goes back.
    this.reassert = new OwnWriteReassert(this.claims, this.authority, logger("state"));
    this.reassert.start();
    this.nodeAccounts.start();
    this.config.watch();
    let trusted = [...cfg.trusted_keys];
    let operatorKeys = JSON.stringify(cfg.operator_keys);
    if (this.opts.runAgent) {
      // Preflight really starts a sandbox once; the proxies confined processes reach the network by.
      this.confinement = await new Confinement({
        root: this.opts.root,
        settings: () => this.config.project.sandbox,
        log: logger("confine"),
      }).start();
      this.preflight();
    }
    this.config.on("change", () => {
      configureGit({ timeoutMs: this.config.project.git_timeout_secs * 1000 });
      if (this.opts.runAgent) {
        this.pool.configure(this.config.agents.agent, this.config.project.max_coders);
        this.preflight();
      }
      if (role === "rendezvous") this.revokeUntrusted(trusted, tokens);
      trusted = [...this.config.project.trusted_keys];
      // Accounts and caps may have changed: show the pause that holds now, and take work if none does.
      this.nodeAccounts.changed();
      if (JSON.stringify(this.config.project.operator_keys) !== operatorKeys) {
        operatorKeys = JSON.stringify(this.config.project.operator_keys);
        pipeline.recheck();
        this.policy.revocations.recheck();
        this.directives.check();
      }
    });

    this.sync.start();
    // Once the rendezvous answered, its directives can be checked, and the link's local address
    // is the best guess of how other hosts reach this node.
    this.sync.upstream?.on("connected", () => {
      // The rendezvous judges this node alive by a heartbeat it *receives*; what the handshake's
      // catch-up carries is not one (see PeerReceipts). Beat now rather than a scan interval later.
      this.presence.beat();
      this.directives.check();
      if (this.advertised.learnLocalAddress(this.sync.upstream?.localAddress)) {
        this.log.info({ address: this.address }, "advertised address");
        this.presence.beat();
      }
    });
    this.sync.upstream?.on("failed", (err) =>
      this.opts.onFatal ? this.opts.onFatal(err) : this.log.error({ err: err.message }, "rendezvous link failed for good"),
    );
    if (this.opts.joinToken && this.opts.gatewayUrl) {
      void registerWithGateway(
        this.opts.gatewayUrl,
        { token: this.opts.joinToken, label: this.label, address: this.address },
        this.identity,
        this.log,
      );
    }
    // A rendezvous that lost its replica sequences nothing until it has it back.
    if (role === "rendezvous") void this.fence.opened().then(() => this.closing || this.startRendezvous());
    if (this.opts.runAgent) await this.startAgent();
    this.log.info(
      {
        role,
        nodeId: this.nodeId,
        port: this.port,
        host: this.host,
        address: this.address,
        tls: !!this.opts.tls,
        open: this.policy.open,
        rendezvous: this.sync.upstream?.url ?? null,
      },
      "huskies node listening",
    );
    return this;
  }

  /** The rendezvous' own services: the claim sequencer, housekeeping, notifications. */
  private startRendezvous(): void {
    const state = this.trustState;
    adoptUnsignedItems(
      this.claims,
      this.authority,
      { get: () => state.get("adopted-unsigned-items") === "1", set: () => state.set("adopted-unsigned-items", "1") },
      this.log,
    );
    this.repair = new ForgeryRepair(this.claims, this.authority, logger("rendezvous"));
    this.repair.start();
    this.directives.reassert();
    this.rendezvous = new RendezvousService(this.claims, this.config, logger("rendezvous"), {
      project: basename(this.opts.root),
      onGrant: (nodes) => {
        this.metrics.claimGranted(nodes.length);
        // The grantee hears of its claim before the other nodes wake up to the same update.
        this.sync.hub.deliverFirstTo(nodes);
      },
      // Offers go only to agents linked to this rendezvous right now (see ClaimSequencer.offer).
      linked: (nodeId) => !!this.sync.hub.linkTo(nodeId),
      // The files of stories in flight, read from their pushed branches in this checkout.
      root: this.opts.root,
      baseBranch: () => this.baseBranch,
    });
    this.rendezvous.start();
  }

  /** The slots of agents.toml at work: reconcile, then the work loop. */
  private async startAgent(): Promise<void> {
    const pipeline = this.replica.pipeline;
    this.agent = new AgentService({
      ctx: {
        root: this.opts.root,
        nodeId: this.nodeId,
        pipeline,
        claims: this.claims,
        config: this.config,
        logs: this.logs,
        pool: this.pool,
        baseBranch: this.baseBranch,
        log: logger("agent"),
        mergeLock: serialize(),
        health: this.pause,
        metrics: this.metrics,
        accounts: this.accounts,
        confinement: this.confinement,
        identity: this.identity,
      },
      watch: this.opts.role === "agent" ? new RendezvousWatch(pipeline, () => !!this.sync.upstream?.connected) : undefined,
      ready: () => this.replicaReady(),
      acceptsWork: () => !pipeline.readOnly && this.pause.acceptsWork() && !this.accounts.projectCapReached(),
      keptChanged: () => this.presence.beat(),
    });
    await this.agent.start();
  }

  /**
   * Every slot must be able to run here (its runtime binary exists; a required sandbox has its
   * tools). One clear line per problem, and the node pauses instead of failing stories; a config
   * edit that fixes the problems lifts the pause.
   */
  private preflight(): void {
    const problems = preflightSlots(this.config.agents.agent, { probe: this.confinement?.probe, gates: this.config.project.gates });
    for (const p of problems) this.log.error({ slot: p.slot }, p.message);
    if (problems.length) this.pause.hold(`preflight: ${problems.map((p) => p.message).join("; ")}`.slice(0, 500), "preflight");
    else if (this.pause.cause === "preflight") this.pause.resume("preflight problems fixed");
  }

  /** The pause this node shows: its own (limits, credentials, operators, preflight), else its accounts'. */
  effectivePause(now = Date.now()): PauseState | null {
    return this.pause.state ?? this.nodeAccounts.pause(now);
  }

  /** Revoke a key project-wide (rendezvous only): a signed entry every node enforces. */
  private revoke(nodeId: string): void {
    this.policy.revocations.revoke(this.identity, nodeId);
    this.log.warn({ node: nodeId.slice(0, 12) }, "key revoked");
  }

  /**
   * A key taken out of `trusted_keys` is revoked (on the rendezvous) unless a join token admitted
   * it too: removing trust must close its links and void the certificate it was issued.
   */
  private revokeUntrusted(before: readonly string[], tokens: JoinTokenStore): void {
    const now = new Set(this.config.project.trusted_keys);
    for (const key of before) if (!now.has(key) && !tokens.isAdmitted(key)) this.revoke(key);
  }

  /**
   * Before the agent acts on its replica (reconcile, claims): a short wait for the rendezvous, or,
   * when the replica file was empty or unreadable, as long as it takes to sync with it, so that a
   * lost replica never makes this node forget or redo work.
   */
  private async replicaReady(): Promise<void> {
    if (this.fence.fenced) {
      await this.fence.opened();
      return;
    }
    const suspect = this.replica.suspect;
    if (!suspect || !this.sync.upstream) {
      if (suspect) this.log.warn({ reason: suspect }, "replica may be incomplete and there is no rendezvous to sync with; going on");
      await this.sync.waitForFirstSync(FIRST_SYNC_WAIT_MS);
      return;
    }
    this.log.warn({ reason: suspect }, "replica may be incomplete: waiting for a sync with the rendezvous before acting on it");
    await this.sync.waitForFirstSync(Number.POSITIVE_INFINITY);
    this.replica.trust();
    this.log.info("replica synced; acting on it");
  }

  health(): Health {
    const links = this.sync.status();
    return {
      nodeId: this.nodeId,
      role: this.opts.role,
      version: VERSION,
      protocol: PROTOCOL,
      minProtocol: MIN_PROTOCOL,
      schema: { document: documentSchema(this.replica.doc) ?? null, supported: SCHEMA },
      ...(this.replica.pipeline.readOnly ? { readOnly: this.replica.pipeline.readOnly } : {}),
      label: this.label,
      ...links,
      running: this.agent?.running() ?? [],
      paused: this.effectivePause(),
      accounts: this.accountsView(),
      items: this.replica.pipeline.items.size,
      malformedEntries: this.replica.pipeline.malformedCount,
      // Why this replica may lack what it once held (until it has synced), and whether writes wait for that.
      replica: { suspect: this.replica.suspect ?? null, takesWrites: !this.fence.fenced },
      unverifiedWrites: this.authority.unverified,
      writeChecks: {
        reads: this.authority.reads,
        groups: this.authority.groupChecks,
        signatures: verifyCounts.checks,
        ms: Number(this.authority.checkNs) / 1e6,
      },
      digest: documentDigest(this.replica.doc),
      tls: !!this.opts.tls,
      address: this.address,
      // Whether every slot and the gates run confined here (false: some run unconfined, with a warning each time).
      ...(this.confinement
        ? { confined: this.confinement.confined([...this.config.agents.agent.map((a) => a.sandbox), this.config.project.gates.sandbox]) }
        : {}),
      // What the board needs to tell a dead node or a stuck story the way the nodes do.
      config: { default_qa: this.config.project.default_qa, node_alive_secs: this.config.project.node_alive_secs },
    };
  }

  /** Accounts, their pauses and today's spend (status --json, /health with the token, the board). */
  accountsView(now = Date.now()): AccountsView {
    return this.nodeAccounts.view(now);
  }

  /** Stop accepting work, stop coders, mark this node not alive, flush, close. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.agent?.stop();
      await this.chat?.close();
      await this.confinement?.close();
      this.rendezvous?.stop();
      this.repair?.stop();
      this.reassert?.stop();
      this.directives.stop();
      this.nodeAccounts.stop();
      this.fence.stop();
      this.pause.stop();
      this.presence.stop();
      await this.sync.stop();
      await this.config.close();
      await this.http.stop();
      this.schema.close();
      this.replica.close();
      this.lock?.release();
    })();
    return this.closing;
  }
}
