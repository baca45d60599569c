import { createHash } from "node:crypto";
import * as Y from "yjs";

/**
 * A short fingerprint of a replica's content: sha256 of the document's snapshot (state vector
 * *and* delete set), first 16 hex characters. Two replicas with equal digests hold the same
 * inserts and the same deletions, so they are identical, whatever order the updates came in;
 * a deletion changes the digest even though it adds nothing to the state vector.
 */
export function documentDigest(doc: Y.Doc): string {
  return createHash("sha256")
    .update(Y.encodeSnapshot(Y.snapshot(doc)))
    .digest("hex")
    .slice(0, 16);
}
