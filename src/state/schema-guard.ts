import type { Logger } from "pino";
import { VERSION } from "../version.js";
import { documentSchema, migrateDocument, SCHEMA } from "./migrations/index.js";
import type { PipelineDoc } from "./pipeline-doc.js";
import { StoreUnavailable } from "./replica-store.js";

/** What REST's write guard asks of a node's store (`src/server/store-guard.ts`). */
export interface Writable {
  readonly writable: boolean;
  assertWritable(): void;
}

/** The replica's write gate, refusing also while the document is read-only here (503 with the reason). */
export function readOnlyAware(pipeline: PipelineDoc, replica: Writable): Writable {
  return {
    get writable() {
      return !pipeline.readOnly && replica.writable;
    },
    assertWritable() {
      if (pipeline.readOnly) throw new StoreUnavailable(pipeline.readOnly);
      replica.assertWritable();
    },
  };
}

/**
 * The document's schema against this release (README "Versions"):
 * - the rendezvous brings a document of an older `meta.schema` forward once, through the
 *   migrations in `src/state/migrations/`, as soon as the document holds anything (a fresh
 *   project is stamped with its first item; a replica received from an agent is migrated when
 *   it arrives);
 * - every node that meets a schema newer than it understands (or a `meta.schema` it cannot read)
 *   says so once and stays read-only: `PipelineDoc.readOnly` refuses local writes, REST answers
 *   503 with the reason, and the node takes no work.
 */
export class SchemaGuard {
  private stop: (() => void) | undefined;
  private migrating = false;

  constructor(
    private readonly pipeline: PipelineDoc,
    private readonly opts: {
      /** This node brings older documents forward (the rendezvous). */
      migrate: boolean;
      /** Whether an empty document may be stamped with this schema now (a new project, not a lost replica). */
      stampEmpty?: () => boolean;
      log: Logger;
    },
  ) {}

  start(): void {
    this.check();
    this.stop = this.pipeline.onChange(() => this.check());
  }

  close(): void {
    this.stop?.();
  }

  private check(): void {
    const doc = this.pipeline.doc;
    const schema = documentSchema(doc);
    const reason =
      schema === undefined
        ? `the document's meta.schema is not a schema number; this node (huskies ${VERSION}, schema ${SCHEMA}) stays read-only`
        : schema > SCHEMA
          ? `the document is schema ${schema}, newer than huskies ${VERSION} understands (schema ${SCHEMA}): this node stays read-only; upgrade huskies`
          : undefined;
    if (reason !== this.pipeline.readOnly) {
      if (reason) this.opts.log.error({ schema: schema ?? null, understands: SCHEMA }, reason);
      else if (this.pipeline.readOnly) this.opts.log.info({ schema }, "document schema understood again: writing");
      this.pipeline.readOnly = reason;
    }
    const hasContent = this.pipeline.items.size > 0 || (this.opts.stampEmpty?.() ?? false);
    if (!reason && this.opts.migrate && schema! < SCHEMA && hasContent && !this.migrating) {
      // Not inside the update that revealed it: the migration is its own transaction.
      this.migrating = true;
      queueMicrotask(() => {
        this.migrating = false;
        const report = migrateDocument(doc);
        if (report && this.pipeline.items.size > 0)
          this.opts.log.info(report, `document migrated from schema ${report.from} to ${report.to}`);
      });
    }
  }
}
