import type { Logger } from "pino";
import type { Identity } from "../trust/identity.js";
import { signRecord, verifyRecord } from "../trust/signed-record.js";
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
 * - `meta` is not a signed map and any admitted replica can write it, so a schema this release
 *   does not understand (newer, or not a number) counts only when `meta.schemaSig` is an operator
 *   key's signature over that number (the rendezvous signs what it migrates to). An unsigned one
 *   is counted as an unverified write and ignored, and the rendezvous writes its own back: one
 *   admitted node cannot make the whole project read-only.
 */
export const SCHEMA_KIND = "huskies-schema-v1";
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
      /** Signs the schema this node migrates to (the rendezvous). */
      identity?: Identity;
      /** Whether `key` may sign the schema (an operator key); without it every schema counts. */
      isOperator?: (key: string) => boolean;
      /** Counts an unverified write (`/health` `unverifiedWrites`). */
      countUnverified?: (key: string) => void;
    },
  ) {}

  start(): void {
    this.check();
    this.stop = this.pipeline.onChange(() => this.check());
  }

  close(): void {
    this.stop?.();
  }

  /** Whether the document's `meta.schema` is one this release must honour: understood, or signed by an operator. */
  private honoured(): boolean {
    const schema = documentSchema(this.pipeline.doc);
    if (schema !== undefined && schema <= SCHEMA) return true;
    if (!this.opts.isOperator) return true;
    const rec = this.pipeline.meta.get("schemaSig") as { schema?: unknown; by?: unknown } | undefined;
    const raw = this.pipeline.meta.get("schema");
    return (
      !!rec && typeof rec.by === "string" && rec.schema === raw && this.opts.isOperator(rec.by) && verifyRecord(SCHEMA_KIND, rec.by, rec)
    );
  }

  /** The rendezvous stamps `meta.schema` with its own number, signed (after a migration, or over a forgery). */
  private stamp(): void {
    const id = this.opts.identity;
    if (!id || this.pipeline.readOnly) return;
    this.pipeline.transact(() => {
      this.pipeline.meta.set("schema", SCHEMA);
      this.pipeline.meta.set("schemaSig", signRecord(id, SCHEMA_KIND, { schema: SCHEMA, by: id.nodeId }));
    }, "migration");
  }

  private check(): void {
    const doc = this.pipeline.doc;
    if (!this.honoured()) {
      this.opts.countUnverified?.(`schema\0${JSON.stringify(this.pipeline.meta.get("schema")) ?? ""}`);
      if (this.pipeline.readOnly) this.pipeline.readOnly = undefined;
      if (this.opts.migrate && !this.migrating) {
        this.migrating = true;
        this.opts.log.warn(
          { schema: this.pipeline.meta.get("schema") as never },
          "ignoring an unsigned meta.schema; writing this node's back",
        );
        queueMicrotask(() => {
          this.migrating = false;
          this.stamp();
        });
      }
      return;
    }
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
        if (report) this.stamp();
        if (report && this.pipeline.items.size > 0)
          this.opts.log.info(report, `document migrated from schema ${report.from} to ${report.to}`);
      });
    }
  }
}
