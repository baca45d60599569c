import { choosePeers } from "../pipeline/claim-rules.js";
import { isPeerAlive } from "../state/claim-view.js";
import { meshAddressAllowed } from "../pipeline/mesh-address.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { SyncPolicy } from "../trust/auth-policy.js";
import type { Identity } from "../trust/identity.js";
import { SyncClient } from "./sync-client.js";
import { plaintextRefusal } from "../trust/plaintext.js";
import type { SyncHub } from "./sync-hub.js";

/** Where to dial a peer: the address and certificate fingerprint from its signed entry. */
export interface MeshTarget {
  url: string;
  fingerprint?: string;
}

const targetKey = (id: string, t: MeshTarget) => `${id} ${t.url} ${t.fingerprint ?? ""}`;

export interface MeshSettings {
  maxPeers: number;
  scanIntervalMs: number;
  nodeAliveMs: number;
  /** `link_ping_secs` and `handshake_timeout_secs` in ms (defaults when absent). */
  pingMs?: number;
  handshakeMs?: number;
}

/**
 * Supplementary sync links to other agents, so the pipeline keeps flowing while the rendezvous
 * is down. Peers are the live agents with an address, ranked by sha256(self ‖ peer), at most
 * `maxPeers` (huskies' every-agent-to-every-agent mesh was a connection storm). Reconciled when
 * `nodes` changes and every `scanIntervalMs`. Each link is dialled for one node id: another key
 * answering at that address is dropped, and the peer must be admitted by this node's policy
 * (its certificate from the rendezvous), so a planted address or entry gets no replica.
 *
 * Over `wss://` the peer's certificate is usually self-signed. It is accepted only if its SHA-256
 * matches the `fingerprint` in the peer's node entry, which the peer signed with its node key
 * (readers ignore entries without a valid signature): the key proven in the handshake is the
 * trust anchor, and the fingerprint pin binds the TLS channel to it, so a man in the middle with
 * another certificate is refused before any frame. An entry with a wss address and no
 * fingerprint gets ordinary CA validation. A pin that fails is not redialled until the entry
 * changes.
 */
export class MeshManager {
  private readonly links = new Map<string, { client: SyncClient; key: string }>();
  /** Targets whose pin failed (permanent until the peer's entry changes). */
  private readonly refused = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  private readonly unobserve: () => void;

  constructor(
    private readonly pipeline: PipelineDoc,
    private readonly hub: SyncHub,
    private readonly identity: Identity,
    private settings: () => MeshSettings,
    private readonly maxFrameBytes: number,
    private readonly policy?: SyncPolicy,
    /** `allow_plaintext`: peers advertising plain ws:// on another host are dialled too. */
    private readonly allowPlaintext: () => boolean = () => false,
  ) {
    const onNodes = () => this.schedule();
    pipeline.nodes.observeDeep(onNodes);
    this.unobserve = () => pipeline.nodes.unobserveDeep(onNodes);
    this.restartTimer();
    this.schedule();
  }

  restartTimer(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.reconcile(), this.settings().scanIntervalMs);
    this.timer.unref();
  }

  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.reconcile();
    });
  }

  /** The peers we should be linked to now. */
  desired(now = this.pipeline.clock.monotonic()): Map<string, MeshTarget> {
    const s = this.settings();
    // A peer whose link is up is alive whatever its last heartbeat says: while both ends reach
    // the rendezvous the link is quiet, and if the rendezvous vanishes without a word (a pulled
    // cable) heartbeats stop arriving for as long as that takes to notice. Dropping the link then
    // would leave the two with no way to hear from each other again.
    const linked = new Set(this.connectedPeers());
    const candidates = this.pipeline
      .listNodes()
      .filter(
        (n) =>
          n.id !== this.identity.nodeId &&
          n.role !== "rendezvous" &&
          meshAddressAllowed(n.address) &&
          !plaintextRefusal(n.address, this.allowPlaintext()) &&
          (isPeerAlive(this.pipeline, n.id, s.nodeAliveMs, now) || (n.alive && linked.has(n.id))) &&
          !this.policy?.isRevoked(n.id),
      );
    const chosen = choosePeers(
      this.identity.nodeId,
      candidates.map((n) => n.id),
      s.maxPeers,
    );
    return new Map(
      chosen.map((id) => {
        const n = candidates.find((c) => c.id === id)!;
        return [id, { url: n.address, fingerprint: n.address.startsWith("wss:") ? n.fingerprint : undefined }];
      }),
    );
  }

  reconcile(): void {
    if (this.timer === undefined) return;
    const want = this.desired();
    for (const [id, link] of this.links) {
      const target = want.get(id);
      if (!target || targetKey(id, target) !== link.key) {
        link.client.stop();
        this.links.delete(id);
        this.hub.log.info({ peer: id.slice(0, 12) }, "mesh link dropped");
      }
    }
    for (const [id, target] of want) {
      const key = targetKey(id, target);
      if (this.links.has(id) || this.refused.has(key)) continue;
      const policy = this.policy;
      const { pingMs, handshakeMs } = this.settings();
      const client = new SyncClient({
        pingMs,
        handshakeMs,
        url: target.url,
        hub: this.hub,
        identity: this.identity,
        maxFrameBytes: this.maxFrameBytes,
        expectedPeer: id,
        pin: target.fingerprint ? { fingerprint256: target.fingerprint } : undefined,
        admission: policy ? () => policy.credential() : undefined,
        admitPeer: policy ? (peer, credential) => policy.admits(peer, credential) : undefined,
      });
      client.on("failed", () => {
        // Logged by the client; drop it and do not redial this target until the entry changes.
        this.refused.add(key);
        if (this.links.get(id)?.client === client) this.links.delete(id);
      });
      this.links.set(id, { client, key });
      client.start();
      this.hub.log.info({ peer: id.slice(0, 12), url: target.url, pinned: !!target.fingerprint }, "mesh link opened");
    }
  }

  /** Outgoing mesh links (connected or trying), by node id. */
  peers(): string[] {
    return [...this.links.keys()];
  }

  connectedPeers(): string[] {
    return [...this.links.entries()].filter(([, l]) => l.client.connected).map(([id]) => id);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unobserve();
    for (const link of this.links.values()) link.client.stop();
    this.links.clear();
  }
}
