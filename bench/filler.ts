import * as Y from "yjs";
import { huskiesDir } from "../src/config/project-root.js";
import type { Stage } from "../src/pipeline/stages.js";
import { loadOrCreateIdentity } from "../src/trust/identity.js";
import { ItemAuthority } from "../src/trust/item-authority.js";
import { Replica } from "../src/state/replica.js";
import { SqliteStore } from "../src/state/sqlite-store.js";

/** A project's history: mostly archived and done, a little backlog (auto_promote is off in the benches). */
function fillerStage(i: number): Stage {
  if (i % 20 === 0) return "backlog";
  return i % 2 ? "archived" : "done";
}

export interface Filler {
  items: number;
  /** The filler's state vector: which client wrote which clock range. */
  stateVector: Map<number, number>;
  /** The whole filler as one update (what a replica that already holds the project loads). */
  snapshot: Uint8Array;
}

/**
 * The bulk path: write `items` finished stories straight into the project's replica file before
 * the rendezvous starts (as if the project had a long history), in one transaction, compacted
 * into the snapshot row like a replica that has been running for a while.
 */
export function writeFiller(root: string, items: number, now = Date.now()): Filler {
  // Signed with the key the rendezvous will have (its node.key, made here first), as every item a
  // rendezvous files is: a replica of unsigned items would be adopted (signed) on its first start.
  const identity = loadOrCreateIdentity(huskiesDir(root, "node.key"));
  const authority = new ItemAuthority(identity, (k) => k === identity.nodeId);
  const replica = new Replica(new SqliteStore(huskiesDir(root, "replica.db")), { authority });
  const pipeline = replica.pipeline;
  pipeline.createItems(
    Array.from({ length: items }, (_, k) => ({
      name: `Filler ${k + 1}`,
      stage: fillerStage(k + 1),
      body: `# Filler ${k + 1}\n\nAs a user I want feature ${k + 1}.\n\n- [x] it works\n`,
    })),
    now,
  );
  const snapshot = Y.encodeStateAsUpdate(replica.doc);
  replica.store.compact(snapshot);
  const stateVector = Y.decodeStateVector(Y.encodeStateVector(replica.doc));
  replica.close();
  return { items, stateVector, snapshot };
}

/** A root type no huskies node reads or writes: where a simulated agent keeps the placeholder. */
const PLACEHOLDER_ROOT = "huskies-bench-filler-placeholder";

/**
 * An update that gives a replica the filler's state vector without its content: for each client
 * of the filler, one live text item of the same length, written under that client's id into a
 * root type nobody reads. A replica that applied it syncs only what came after the filler. It must
 * be live, not a Yjs GC range: collected ranges are "deleted", and a replica's sync step 2 carries
 * its delete set, so the rendezvous would delete the real filler.
 *
 * Why the scale benchmark needs this: a Yjs replica of 10,000 items takes ~70 MB of heap, so 200
 * simulated agents each holding the real filler would need 14 GB in one process. The rendezvous
 * still holds (and serves, and indexes) the real filler, and what reaches it from an agent is the
 * same bytes either way. The filler is written without deletions (see `createItems`), and nothing
 * touches it during the benchmark; a few agents load the real filler to check they see the same
 * latency.
 */
export function fillerPlaceholder(stateVector: Map<number, number>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [client, clock] of stateVector) {
    if (clock <= 0) continue;
    const doc = new Y.Doc();
    doc.clientID = client;
    doc.getText(PLACEHOLDER_ROOT).insert(0, "x".repeat(clock));
    parts.push(Y.encodeStateAsUpdate(doc));
  }
  return Y.mergeUpdates(parts);
}
