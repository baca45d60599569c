import type { Logger } from "pino";
import type * as Y from "yjs";
import type { SyncConnection } from "./sync-connection.js";

/**
 * All sync links of one process around its one document. An update from any source goes to
 * every ready link except the one it came from, so a node relays between its peers.
 */
export class SyncHub {
  private readonly links = new Set<SyncConnection>();

  constructor(readonly doc: Y.Doc, readonly log: Logger) {
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      for (const link of this.links) if (link !== origin) link.sendUpdate(update);
    });
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
