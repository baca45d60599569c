import type { Logger } from "pino";
import type * as Y from "yjs";
import type { SyncConnection } from "./sync-connection.js";

/**
 * All sync links of one process around its one document. An update from any source goes to
 * every ready link except the one it came from, so a node relays between its peers.
 */
export class SyncHub {
  private readonly links = new Set<SyncConnection>();
  /** Whether this node has a live link to the rendezvous; only agents set it. */
  selfLinked: () => boolean = () => false;

  constructor(readonly doc: Y.Doc, readonly log: Logger) {
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      for (const link of this.links) if (link !== origin && this.carries(link)) link.sendUpdate(update);
    });
  }

  /**
   * The relay rule. A link between two agents that are both linked to the rendezvous stays quiet:
   * each gets everything through the rendezvous, and flooding the mesh too would multiply every
   * update by the number of mesh links. As soon as either side loses the rendezvous it says so,
   * both resync over the link, and it carries everything again.
   */
  private carries(link: SyncConnection): boolean {
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

  add(link: SyncConnection): void {
    this.links.add(link);
  }

  remove(link: SyncConnection): void {
    this.links.delete(link);
  }

  relayRaw(frame: Uint8Array, from: SyncConnection): void {
    for (const link of this.links) if (link !== from) link.send(frame);
  }

  get size(): number {
    return this.links.size;
  }

  closeAll(): void {
    for (const link of [...this.links]) link.ws.close(1001, "shutting down");
  }
}
