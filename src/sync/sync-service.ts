import type { IncomingMessage, Server } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Logger } from "pino";
import type { WebSocketServer } from "ws";
import type * as Y from "yjs";
import type { LiveConfig } from "../config/live-config.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { SyncPolicy } from "../trust/auth-policy.js";
import type { Identity } from "../trust/identity.js";
import { LAZY_RELAY_MAX_MS, LAZY_RELAY_PER_LINK_MS, LAZY_RELAY_SHARE } from "../config/defaults.js";
import { MeshManager } from "./mesh.js";
import { SyncClient, type SyncClientOptions } from "./sync-client.js";
import { SyncHub, type PersistedUpdates } from "./sync-hub.js";
import { attachSyncServer } from "./sync-server.js";
import { UpdateGuard } from "../trust/update-guard.js";
import type { TlsPin } from "../trust/tls-pin.js";

export interface SyncServiceOptions {
  doc: Y.Doc;
  pipeline: PipelineDoc;
  identity: Identity;
  config: LiveConfig;
  /** Who may sync with this node (createSyncPolicy); also this node's certificate and rendezvous key. */
  policy: SyncPolicy;
  /** The replica: only persisted updates go to peers. */
  persistence?: PersistedUpdates;
  /** Agents keep a mesh and tell peers whether they reach the rendezvous. */
  role: "rendezvous" | "agent";
  upstreamUrl?: string;
  joinToken?: string;
  /** The rendezvous pinned by a join string (certificate fingerprint, node key); a mismatch is final. */
  upstreamPin?: TlsPin;
  /** Bearer for servers that admit by token (`HUSKIES_TOKEN`). */
  bearer?: string;
  /** The document's size on disk, for `max_document_bytes`. */
  documentBytes?: () => number;
  /** The rendezvous key or this node's certificate changed (learned on first contact, reissued): persist them. */
  onTrustChange?: () => void;
  /** Agents: whether to follow another rendezvous key on the strength of an operator's handover (see SyncClient). */
  followHandover?: SyncClientOptions["followHandover"];
  log: Logger;
}

export interface LinkStatus {
  rendezvous: { url: string | null; connected: boolean };
  mesh: { peers: string[]; connected: string[]; max: number };
}

/**
 * Everything that moves the document between nodes: the `/crdt-sync` listener, the link to the
 * rendezvous (upstream), the mesh, and the relay rule between them. One lifecycle: `attach` to
 * the HTTP server, `start` the outgoing links, `stop` removes every link and timer.
 */
export class SyncService {
  readonly hub: SyncHub;
  upstream: SyncClient | undefined;
  mesh: MeshManager | undefined;
  private wss: WebSocketServer | undefined;

  constructor(private readonly opts: SyncServiceOptions) {
    this.hub = new SyncHub(opts.doc, opts.log, opts.persistence, {
      lazyBatchMs: (links) =>
        Math.min(LAZY_RELAY_MAX_MS, opts.config.project.scan_interval_secs * 1000 * LAZY_RELAY_SHARE, links * LAZY_RELAY_PER_LINK_MS),
    });
    this.hub.updateGuard = new UpdateGuard(() => ({
      maxUpdateBytes: opts.config.project.max_update_bytes,
      maxDocumentBytes: opts.config.project.max_document_bytes,
      documentBytes: opts.documentBytes ?? (() => 0),
      warn: (bytes, max) => opts.log.warn({ bytes, max }, "the document is over 80 % of max_document_bytes"),
    }));
  }

  /** Serve `/crdt-sync` on `server` (upgrade requests); `checkUpgrade` is the HTTP request guard's Host/Origin check. */
  attach(server: Server | HttpsServer, checkUpgrade?: (req: IncomingMessage) => string | undefined): void {
    this.wss = attachSyncServer(server, this.hub, {
      policy: this.opts.policy,
      maxFrameBytes: this.opts.config.project.max_frame_bytes,
      handshakeMs: () => this.opts.config.project.handshake_timeout_secs * 1000,
      checkUpgrade,
      allowPlaintext: () => this.opts.config.project.allow_plaintext,
    });
  }

  start(): void {
    const { opts } = this;
    const cfg = opts.config.project;
    const policy = opts.policy;
    this.offRevocations = policy.enforce(this.hub);
    if (opts.upstreamUrl) {
      const upstream = new SyncClient({
        url: opts.upstreamUrl,
        hub: this.hub,
        identity: opts.identity,
        maxFrameBytes: cfg.max_frame_bytes,
        joinToken: opts.joinToken,
        token: opts.bearer,
        upstream: true,
        pingMs: cfg.link_ping_secs * 1000,
        handshakeMs: cfg.handshake_timeout_secs * 1000,
        pin: opts.upstreamPin,
        allowPlaintext: () => opts.config.project.allow_plaintext,
        expectedPeer: opts.role === "agent" ? () => policy.rendezvousKey() : undefined,
        followHandover: opts.role === "agent" ? opts.followHandover : undefined,
        admission: () => policy.credential(),
        // Verified against the key that just proved itself (and matched any expected key).
        onAdmission: (cert) => {
          const learned = policy.learnRendezvous(cert.issuer);
          if (policy.setCredential(cert) || learned) opts.onTrustChange?.();
        },
      });
      // Trust on first use until .huskies/rendezvous.json pins the key.
      upstream.on("connected", () => {
        if (upstream.peerId && policy.learnRendezvous(upstream.peerId)) opts.onTrustChange?.();
      });
      this.upstream = upstream;
      if (opts.role === "agent") {
        // The relay rule (see SyncHub): peers learn whether we reach the rendezvous.
        this.hub.selfLinked = () => upstream.connected;
        upstream.on("connected", () => this.hub.announce());
        upstream.on("disconnected", () => this.hub.announce());
      }
      upstream.start();
    }
    if (opts.role === "agent") {
      this.mesh = new MeshManager(
        opts.pipeline,
        this.hub,
        opts.identity,
        () => ({
          maxPeers: opts.config.project.max_mesh_peers,
          scanIntervalMs: opts.config.project.mesh_scan_interval_secs * 1000,
          nodeAliveMs: opts.config.project.node_alive_secs * 1000,
          pingMs: opts.config.project.link_ping_secs * 1000,
          handshakeMs: opts.config.project.handshake_timeout_secs * 1000,
        }),
        cfg.max_frame_bytes,
        policy,
        () => opts.config.project.allow_plaintext,
      );
      const onConfig = () => {
        this.mesh?.restartTimer();
        this.mesh?.schedule();
      };
      opts.config.on("change", onConfig);
      this.offConfig = () => opts.config.off("change", onConfig);
    }
  }

  private offConfig: () => void = () => undefined;
  private offRevocations: () => void = () => undefined;

  status(): LinkStatus {
    return {
      rendezvous: { url: this.upstream?.url ?? null, connected: !!this.upstream?.connected },
      mesh: { peers: this.mesh?.peers() ?? [], connected: this.mesh?.connectedPeers() ?? [], max: this.opts.config.project.max_mesh_peers },
    };
  }

  /** Open sync links by kind, for /metrics. */
  linkCounts(): Record<string, number> {
    const mesh = this.mesh?.connectedPeers().length ?? 0;
    const upstream = this.upstream?.connected ? 1 : 0;
    return { upstream, mesh, inbound: Math.max(0, this.hub.size - upstream - mesh) };
  }

  /** Resolve once the upstream link has synced, or after `ms` (an offline start must not hang; Infinity waits). */
  waitForFirstSync(ms: number): Promise<void> {
    const upstream = this.upstream;
    return new Promise((resolve) => {
      if (!upstream || upstream.synced) return resolve();
      const t = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
      upstream.once("synced", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Let the last writes leave for the rendezvous (briefly), then close every link. */
  async stop(flushMs = 2000): Promise<void> {
    const deadline = performance.now() + flushMs;
    while (this.upstream && this.upstream.bufferedAmount > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.offConfig();
    this.offRevocations();
    this.mesh?.stop();
    this.upstream?.stop();
    this.hub.closeAll();
    this.wss?.close();
  }
}
