import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { UpdateGuard } from "../trust/update-guard.js";
import * as Y from "yjs";
import { GRANTEE_HEAD_START_MS } from "../config/defaults.js";
import { AwarenessRelay } from "./awareness-relay.js";
import type { LogFrame } from "./frames.js";
import { encodeSyncStep2 } from "./sync-message.js";
import type { SyncConnection } from "./sync-connection.js";

/**
 * Where persisted updates come from (the `Replica`): only updates the store holds are sent to
 * peers, and while some wait (`writable` false) the hub also holds back step-2 answers, which
 * would carry them.
 */
export interface PersistedUpdates {
  readonly writable: boolean;
  on(event: "update", listener: (update: Uint8Array, origin: unknown, lazy: boolean) => void): unknown;
  on(event: "writable", listener: () => void): unknown;
}

export interface SyncHubEvents {
  /** A log-relay frame from an authenticated peer. */
  log: [link: SyncConnection, frame: LogFrame];
  "link-added": [link: SyncConnection];
  "link-removed": [link: SyncConnection];
  /** An authenticated huskies peer's state arrived whole (its sync step 2): this replica holds all it had. */
  "peer-synced": [peerId: string, link: SyncConnection];
}

export interface SyncHubOptions {
  /**
   * How long a lazy update from a peer (heartbeats, claim requests; see `PipelineDoc.lazy`) may
   * wait to be relayed, given the number of links, so that several go out as one frame; 0 relays
   * each at once. A node's own updates are always sent at once (the rendezvous reads an agent's
   * free slots from its entry, and grants on its requests). Read at each update (hot reload).
   */
  lazyBatchMs?: (links: number) => number;
}

/**
 * All sync links of one process around its one document. An update from any source goes to
 * every ready link except the one it came from, so a node relays between its peers.
 *
 * Some updates wait in a per-link outbox: a claim grant for the links other than the grantee's
 * (`deliverFirstTo`), relayed lazy updates for everyone (`lazyBatchMs`). Whatever goes to a link next
 * takes its outbox along, merged into the same frame, so a link still receives every update
 * before the ones written after it, and one timer flushes every outbox at the earliest deadline.
 */
export class SyncHub extends EventEmitter<SyncHubEvents> {
  private readonly links = new Set<SyncConnection>();
  /** Step-1 requests waiting for the store to catch up, by link. */
  private readonly deferred = new Map<SyncConnection, Uint8Array>();
  readonly awareness: AwarenessRelay;
  private first: readonly string[] | undefined;

  /**
   * Send the next document update to these peers now and to the others `GRANTEE_HEAD_START_MS`
   * later: on a busy machine every node that receives an update wakes up to apply it, and the
   * node a claim was just granted to should start its coder before the rest compete for the CPU.
   * A later update flushes the held one first, so every link still sees updates in order.
   */
  deliverFirstTo(peers: readonly string[]): void {
    this.first = peers;
  }

  /** Updates waiting to go to each link, oldest first. */
  private readonly outbox = new Map<SyncConnection, Uint8Array[]>();
  private outboxTimer: NodeJS.Timeout | undefined;
  private outboxDue = Infinity;

  /** Queue `update` for `links`, to be sent at the latest `ms` from now. */
  private hold(links: readonly SyncConnection[], update: Uint8Array, ms: number): void {
    for (const link of links) {
      const queued = this.outbox.get(link);
      if (queued) queued.push(update);
      else this.outbox.set(link, [update]);
    }
    const due = performance.now() + ms;
    if (!links.length || due >= this.outboxDue) return;
    clearTimeout(this.outboxTimer);
    this.outboxDue = due;
    this.outboxTimer = setTimeout(() => this.flushOutbox(), ms);
    this.outboxTimer.unref();
  }

  /** Send `update` to `link` now, after what waits for it. */
  private sendNow(link: SyncConnection, update: Uint8Array, merge: MergeOnce): void {
    const queued = this.outbox.get(link);
    if (!queued) return link.sendUpdate(update);
    this.outbox.delete(link);
    queued.push(update);
    sendInOrder(link, queued, merge);
  }

  private flushOutbox(): void {
    clearTimeout(this.outboxTimer);
    this.outboxTimer = undefined;
    this.outboxDue = Infinity;
    const waiting = [...this.outbox];
    this.outbox.clear();
    const merge = mergeOnce();
    for (const [link, queued] of waiting) if (this.links.has(link)) sendInOrder(link, queued, merge);
  }

  /** Whether this node has a live link to the rendezvous; only agents set it. */
  selfLinked: () => boolean = () => false;
  /** Checks every update a peer sends before it is applied (src/trust/update-guard.ts); the rendezvous' own link is exempt. */
  updateGuard: UpdateGuard | undefined;

  /** `persistence`: the replica; without it (tests, tools) every document update is sent at once. */
  constructor(
    readonly doc: Y.Doc,
    readonly log: Logger,
    private readonly persistence?: PersistedUpdates,
    private readonly opts: SyncHubOptions = {},
  ) {
    super();
    this.awareness = new AwarenessRelay(doc, () => this.links, log);
    const fanOut = (update: Uint8Array, origin: unknown, lazy: boolean) => {
      const merge = mergeOnce();
      const targets = [...this.links].filter((link) => link !== origin && this.carries(link));
      const relayed = this.links.has(origin as SyncConnection);
      const batchMs = lazy && relayed ? (this.opts.lazyBatchMs?.(this.links.size) ?? 0) : 0;
      if (batchMs > 0) return this.hold(targets, update, batchMs);
      const first = this.first;
      this.first = undefined;
      const ahead = first ? targets.filter((l) => l.peerId && first.includes(l.peerId)) : [];
      for (const link of ahead) this.sendNow(link, update, merge);
      const rest = ahead.length ? targets.filter((l) => !ahead.includes(l)) : targets;
      if (ahead.length && rest.length) return this.hold(rest, update, GRANTEE_HEAD_START_MS);
      for (const link of rest) this.sendNow(link, update, merge);
    };
    if (persistence) {
      persistence.on("update", fanOut);
      persistence.on("writable", () => this.answerDeferred());
    } else {
      doc.on("update", (update: Uint8Array, origin: unknown) => fanOut(update, origin, false));
    }
  }

  /**
   * The relay rule. A link between two agents that are both linked to the rendezvous stays quiet:
   * each gets everything through the rendezvous, and flooding the mesh too would multiply every
   * update by the number of mesh links. As soon as either side loses the rendezvous it says so,
   * both resync over the link, and it carries everything again.
   */
  carries(link: SyncConnection): boolean {
    return link.upstream || !(link.peerLinked && this.selfLinked());
  }

  /** Tell every peer our rendezvous status; on losing it, catch up with every peer. */
  announce(): void {
    const linked = this.selfLinked();
    for (const link of this.links) {
      link.sendStatus(linked);
      if (!linked) link.resync();
    }
  }

  /** Answer a peer's state vector, unless updates wait for the store (then once they landed). */
  answerStep1(link: SyncConnection, stateVector: Uint8Array): void {
    if (this.persistence && !this.persistence.writable) {
      this.deferred.set(link, stateVector);
      return;
    }
    link.send(encodeSyncStep2(this.doc, stateVector));
  }

  private answerDeferred(): void {
    const waiting = [...this.deferred];
    this.deferred.clear();
    for (const [link, sv] of waiting) if (this.links.has(link)) link.send(encodeSyncStep2(this.doc, sv));
  }

  add(link: SyncConnection): void {
    this.links.add(link);
    this.awareness.sendStates(link);
    this.emit("link-added", link);
  }

  remove(link: SyncConnection): void {
    if (!this.links.delete(link)) return;
    this.deferred.delete(link);
    // A link that comes back resyncs by state vector, which carries whatever waited here.
    this.outbox.delete(link);
    this.awareness.linkClosed(link);
    this.emit("link-removed", link);
  }

  /** A ready link to `peerId` (an authenticated huskies node), if any. */
  linkTo(peerId: string): SyncConnection | undefined {
    for (const link of this.links) if (link.ready && link.peerId === peerId) return link;
    return undefined;
  }

  /** Close every link of `nodeId` (it was revoked), accepted or dialled. */
  closePeer(nodeId: string, reason: string): number {
    let n = 0;
    for (const link of [...this.links]) {
      if (link.peerId !== nodeId) continue;
      link.close(4001, reason);
      n += 1;
    }
    return n;
  }

  get size(): number {
    return this.links.size;
  }

  /** Shutdown: close every link and stop the awareness timer. */
  closeAll(): void {
    this.flushOutbox();
    for (const link of [...this.links]) link.ws.close(1001, "shutting down");
    this.awareness.destroy();
  }
}

type MergeOnce = (updates: Uint8Array[]) => Uint8Array;

/**
 * `Y.mergeUpdates`, once per distinct list of updates: in one round of sends most links wait for
 * the same updates (all but the one each came from), so 200 links need about a dozen merges.
 */
function mergeOnce(): MergeOnce {
  const ids = new Map<Uint8Array, number>();
  const merged = new Map<string, Uint8Array>();
  return (updates) => {
    const key = updates.map((u) => ids.get(u) ?? (ids.set(u, ids.size), ids.size - 1)).join(",");
    let frame = merged.get(key);
    if (!frame) merged.set(key, (frame = Y.mergeUpdates(updates)));
    return frame;
  };
}

/**
 * Send a link's waiting updates, oldest first. Two go as two frames: merging small updates costs
 * ~0.2 ms each time (measured), more than a second frame. More than two (a second's heartbeats)
 * go as one merged frame, which the receiver applies as one transaction.
 */
function sendInOrder(link: SyncConnection, updates: Uint8Array[], merge: MergeOnce): void {
  if (updates.length <= 2) for (const u of updates) link.sendUpdate(u);
  else link.sendUpdate(merge(updates));
}
