import Database from "better-sqlite3";
import * as Y from "yjs";
import { STAGES, type Stage } from "../pipeline/stages.js";
import { PipelineDoc } from "../state/pipeline-doc.js";

export interface ReplicaSummary {
  /** Valid items in the document. */
  items: number;
  byStage: Partial<Record<Stage, number>>;
  /** The role a node's own entry states, by node id (entries are read as the document holds them). */
  roleOf(nodeId: string): string | undefined;
  /** The ids of every item, for a caller that compares two replicas. */
  ids: string[];
}

/**
 * What a replica file holds, read the way a node reads it (snapshot, then the update log in
 * append order, through `PipelineDoc`'s validation) without opening it as a node would: the
 * file is not written to, and no migration runs (a node migrates its replica when it starts).
 */
export function summarizeReplica(file: string): ReplicaSummary {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const doc = new Y.Doc();
  try {
    const snap = db.prepare("SELECT data FROM snapshot WHERE id = 1").get() as { data: Buffer } | undefined;
    const rows = db.prepare("SELECT data FROM updates ORDER BY seq").all() as Array<{ data: Buffer }>;
    doc.transact(() => {
      for (const u of [...(snap ? [snap] : []), ...rows]) {
        try {
          Y.applyUpdate(doc, new Uint8Array(u.data));
        } catch {
          // A damaged row is skipped, as a node skips it at start (replica.ts).
        }
      }
    });
  } finally {
    db.close();
  }
  const pipeline = new PipelineDoc(doc);
  const byStage: Partial<Record<Stage, number>> = {};
  let items = 0;
  for (const s of STAGES) {
    const n = pipeline.idsIn(s).size;
    if (n) byStage[s] = n;
    items += n;
  }
  return {
    items,
    byStage,
    ids: STAGES.flatMap((s) => [...pipeline.idsIn(s)]),
    roleOf: (nodeId) => pipeline.getNode(nodeId)?.role,
  };
}

/** `3 backlog, 2 current, 40 archived`. */
export function describeStages(byStage: Partial<Record<Stage, number>>): string {
  const parts = STAGES.filter((s) => byStage[s]).map((s) => `${byStage[s]} ${s}`);
  return parts.length ? parts.join(", ") : "no stories";
}
