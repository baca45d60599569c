import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type * as Y from "yjs";
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
  on(event: "update", listener: (update: Uint8Array, origin: unknown) => void): unknown;
  on(event: "writable", listener: () => void): unknown;
}

export interface SyncHubEvents {
  /** A log-relay frame from an authenticated peer. */
  log: [link: SyncConnection, frame: LogFrame];
  "link-added": [link: SyncConnection];
  "link-removed": [link: SyncConnection];
}

/**
 * All sync links of one process around its one document. An update from any source goes to
 * every ready link except the one it came from, so a node relays between its peers.
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

  /** The update held back from the other links, and where it goes. */
  private held: { update: Uint8Array; links: SyncConnection[]; timer: NodeJS.Timeout } | undefined;

  private flushHeld(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    clearTimeout(held.timer);
    for (const link of held.links) if (this.links.has(link)) link.sendUpdate(held.update);
  }

  /** Whether this node has a live link to the rendezvous; only agents set it. */
  selfLinked: () => boolean = () => false;

  /** `persistence`: the replica; without it (tests, tools) every document update is sent at once. */
  constructor(
    readonly doc: Y.Doc,
    readonly log: Logger,
    private readonly persistence?: PersistedUpdates,
  ) {
    super();
    this.awareness = new AwarenessRelay(doc, () => this.links, log);
    const fanOut = (update: Uint8Array, origin: unknown) => {
      this.flushHeld();
      const first = this.first;
      this.first = undefined;
      const targets = [...this.links].filter((link) => link !== origin && this.carries(link));
      const ahead = first ? targets.filter((l) => l.peerId && first.includes(l.peerId)) : [];
      for (const link of ahead) link.sendUpdate(update);
      const rest = ahead.length ? targets.filter((l) => !ahead.includes(l)) : targets;
      if (ahead.length && rest.length) {
        const timer = setTimeout(() => this.flushHeld(), GRANTEE_HEAD_START_MS);
        timer.unref();
        this.held = { update, links: rest, timer };
        return;
      }
      for (const link of rest) link.sendUpdate(update);
    };
    if (persistence) {
      persistence.on("update", fanOut);
      persistence.on("writable", () => this.answerDeferred());
    } else {
      doc.on("update", fanOut);
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
    this.flushHeld();
    for (const link of [...this.links]) link.ws.close(1001, "shutting down");
    this.awareness.destroy();
  }
}
