import { choosePeers, isNodeAlive } from "../pipeline/claim-rules.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { SyncPolicy } from "./auth-policy.js";
import type { Identity } from "./identity.js";
import { SyncClient } from "./sync-client.js";
import type { SyncHub } from "./sync-hub.js";

export interface MeshSettings {
  maxPeers: number;
  scanIntervalMs: number;
  nodeAliveMs: number;
}

/**
 * Supplementary sync links to other agents, so the pipeline keeps flowing while the rendezvous
 * is down. Peers are the live agents with an address, ranked by sha256(self ‖ peer), at most
 * `maxPeers` (huskies' every-agent-to-every-agent mesh was a connection storm). Reconciled when
 * `nodes` changes and every `scanIntervalMs`. Each link is dialled for one node id: another key
 * answering at that address is dropped, and the peer must be admitted by this node's policy
 * (its certificate from the rendezvous), so a planted address or entry gets no replica.
 */
export class MeshManager {
  private readonly links = new Map<string, SyncClient>();
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
  desired(now = Date.now()): Map<string, string> {
    const s = this.settings();
    const candidates = this.pipeline
      .listNodes()
      .filter(
        (n) =>
          n.id !== this.identity.nodeId &&
          n.role !== "rendezvous" &&
          n.address.startsWith("ws") &&
          isNodeAlive(n, now, s.nodeAliveMs) &&
          !this.policy?.isRevoked(n.id),
      );
    const chosen = choosePeers(
      this.identity.nodeId,
      candidates.map((n) => n.id),
      s.maxPeers,
    );
    return new Map(chosen.map((id) => [id, candidates.find((n) => n.id === id)!.address]));
  }

  reconcile(): void {
    if (this.timer === undefined) return;
    const want = this.desired();
    for (const [id, link] of this.links) {
      if (want.get(id) !== link.url) {
        link.stop();
        this.links.delete(id);
        this.hub.log.info({ peer: id.slice(0, 12) }, "mesh link dropped");
      }
    }
    for (const [id, url] of want) {
      if (this.links.has(id)) continue;
      const policy = this.policy;
      this.links.set(
        id,
        new SyncClient({
          url,
          hub: this.hub,
          identity: this.identity,
          maxFrameBytes: this.maxFrameBytes,
          expectedPeer: id,
          admission: policy ? () => policy.credential() : undefined,
          admitPeer: policy ? (peer, credential) => policy.admits(peer, credential) : undefined,
        }).start(),
      );
      this.hub.log.info({ peer: id.slice(0, 12), url }, "mesh link opened");
    }
  }

  /** Outgoing mesh links (connected or trying), by node id. */
  peers(): string[] {
    return [...this.links.keys()];
  }

  connectedPeers(): string[] {
    return [...this.links.entries()].filter(([, l]) => l.connected).map(([id]) => id);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unobserve();
    for (const link of this.links.values()) link.stop();
    this.links.clear();
  }
}
