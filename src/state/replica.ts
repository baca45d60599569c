import * as Y from "yjs";
import type { Logger } from "pino";
import { PipelineDoc } from "./pipeline-doc.js";
import type { ReplicaStore } from "./replica-store.js";
import { COMPACT_AFTER_UPDATES } from "../config/defaults.js";
import { logger } from "../log.js";

const log = logger("state");

/**
 * A persisted replica: a PipelineDoc whose every update (local or from a peer) is appended to
 * the store before the write call returns, so an acknowledged write survives a crash.
 */
export class Replica {
  readonly pipeline: PipelineDoc;
  private compactScheduled = false;
  private closed = false;

  constructor(readonly store: ReplicaStore, opts: { gc?: boolean; log?: Logger } = {}) {
    const doc = new Y.Doc({ gc: opts.gc ?? true });
    const updates = store.load();
    if (updates.length) Y.applyUpdate(doc, Y.mergeUpdates(updates), "store");
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      if (origin === "store" || this.closed) return;
      store.append(update);
      this.maybeCompact();
    });
    this.pipeline = new PipelineDoc(doc, { log: opts.log });
    this.maybeCompact();
  }

  get doc(): Y.Doc {
    return this.pipeline.doc;
  }

  /**
   * Compaction runs off the write path, in a later tick. Appends happen synchronously inside
   * the document's update handler, so at this instant the document holds every appended row.
   */
  private maybeCompact(): void {
    if (this.compactScheduled || this.store.pendingCount() < COMPACT_AFTER_UPDATES) return;
    this.compactScheduled = true;
    setImmediate(() => {
      this.compactScheduled = false;
      if (this.closed) return;
      try {
        this.store.compact(Y.encodeStateAsUpdate(this.doc));
      } catch (err) {
        log.error({ err }, "replica compaction failed; the update log is kept");
      }
    });
  }

  close(): void {
    this.closed = true;
    this.store.close();
  }
}
