import type * as Y from "yjs";

/**
 * Whether the document holds updates it cannot apply yet (an update they build on is missing).
 * Yjs holds such an update back but applies its deletions at once, so until the missing one
 * arrives a group a peer rewrote reads as a group without its fields: nothing is repaired then.
 */
export function incomplete(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}
