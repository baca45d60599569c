import { createHash } from "node:crypto";
import * as Y from "yjs";

/**
 * A short hash of the whole replica: its state vector and its delete set (a Yjs snapshot), so
 * deletions count. Equal digests mean identical documents.
 */
export function documentDigest(doc: Y.Doc): string {
  return createHash("sha256")
    .update(Y.encodeSnapshot(Y.snapshot(doc)))
    .digest("hex")
    .slice(0, 16);
}
