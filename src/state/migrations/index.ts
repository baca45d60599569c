import type * as Y from "yjs";
import { failureKind } from "./failure-kind.js";
import type { Migration } from "./migration.js";

export type { Migration } from "./migration.js";

/**
 * The document's schema history, in order (docs/architecture.md §1, README "Versions"). A
 * document without `meta.schema` was written before versioning: schema 1. Add a migration here
 * for every change of shape an older reader would misread; `SCHEMA` follows.
 */
export const MIGRATIONS: readonly Migration[] = [failureKind];

/** The schema this release reads and writes. */
export const SCHEMA: number = MIGRATIONS.at(-1)?.to ?? 1;

/** A document from before versioning. */
export const UNVERSIONED_SCHEMA = 1;

/** `meta.schema` of a document: 1 when absent, undefined when it is not a positive integer (malformed). */
export function documentSchema(doc: Y.Doc): number | undefined {
  const v = doc.getMap("meta").get("schema");
  if (v === undefined) return UNVERSIONED_SCHEMA;
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 1 ? v : undefined;
}

export interface MigrationReport {
  from: number;
  to: number;
  steps: Array<{ name: string; to: number; changed: number }>;
}

/**
 * Bring a document of an older schema forward to `SCHEMA`, every step in one transaction with
 * `meta.schema` written last, so a replica never holds a half-migrated document under a new
 * number. A document of the current or a newer schema is left alone (undefined).
 */
export function migrateDocument(doc: Y.Doc, origin: unknown = "migration"): MigrationReport | undefined {
  const from = documentSchema(doc) ?? UNVERSIONED_SCHEMA;
  if (from >= SCHEMA) return undefined;
  const steps: MigrationReport["steps"] = [];
  doc.transact(() => {
    for (const m of MIGRATIONS) if (m.to > from) steps.push({ name: m.name, to: m.to, changed: m.migrate(doc) });
    doc.getMap("meta").set("schema", SCHEMA);
  }, origin);
  return { from, to: SCHEMA, steps };
}
