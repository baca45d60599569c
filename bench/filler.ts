import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import { huskiesDir } from "../src/config/project-root.js";
import type { Stage } from "../src/pipeline/stages.js";
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
  const replica = new Replica(new SqliteStore(huskiesDir(root, "replica.db")));
  const pipeline = replica.pipeline;
  pipeline.transact(() => {
    for (let i = 1; i <= items; i++) {
      pipeline.createItem({ name: `Filler ${i}`, stage: fillerStage(i), body: `# Filler ${i}\n\nAs a user I want feature ${i}.\n\n- [x] it works\n` }, now);
    }
  });
  const snapshot = Y.encodeStateAsUpdate(replica.doc);
  replica.store.compact(snapshot);
  const stateVector = Y.decodeStateVector(Y.encodeStateVector(replica.doc));
  replica.close();
  return { items, stateVector, snapshot };
}

/**
 * An update that tells a replica "you hold the filler" without its content: one garbage-collected
 * range (a Yjs GC struct) per client of the filler. A replica that applied it has the filler's
 * state vector, so sync sends it only what came after, and later writes that touch filler
 * entries integrate as garbage there (Yjs' rule for a struct whose parent was collected).
 *
 * Why the scale benchmark needs this: a Yjs replica of 10,000 items takes ~70 MB of heap, so 200
 * simulated agents each holding the real filler would need 14 GB in one process. The rendezvous
 * still holds (and serves, and indexes) the real filler; what reaches it from an agent is the same
 * bytes either way. A few agents load the real filler to check that agents see the same latency.
 */
export function fillerPlaceholder(stateVector: Map<number, number>): Uint8Array {
  const e = encoding.createEncoder();
  const clients = [...stateVector].filter(([, clock]) => clock > 0);
  encoding.writeVarUint(e, clients.length);
  for (const [client, clock] of clients) {
    encoding.writeVarUint(e, 1); // one struct
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, 0); // from clock 0
    encoding.writeUint8(e, 0); // struct ref 0: GC
    encoding.writeVarUint(e, clock); // its length
  }
  encoding.writeVarUint(e, 0); // empty delete set
  return encoding.toUint8Array(e);
}
