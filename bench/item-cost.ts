import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as Y from "yjs";
import { PipelineDoc } from "../src/state/pipeline-doc.js";
import { ephemeralIdentity } from "../src/trust/identity.js";
import { ItemAuthority } from "../src/trust/item-authority.js";
import { nodeSignatures } from "../src/trust/node-signatures.js";

/**
 * What one stored item costs a replica in memory: the JavaScript heap a node holds for a
 * document of this shape (the Yjs structures, PipelineDoc's indexes, every item decoded once, as
 * a rendezvous serving the board has them), divided by its items. This is the growth the soak
 * allows beyond its 10 %: a node that stores more items legitimately holds more.
 *
 * With `operatorKeys` (the rendezvous' key) the document is read as a node reads it: every item's
 * signed groups verified, and what the write authority keeps per item (its verified records, the
 * floor a replay must not go under) held as well.
 */
export function heapBytesPerItem(
  state: Uint8Array,
  opts: { operatorKeys?: readonly string[] } = {},
): { items: number; heapBytes: number; perItem: number } {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  const identity = opts.operatorKeys ? ephemeralIdentity() : undefined;
  const authority = identity ? new ItemAuthority(identity, (key) => opts.operatorKeys!.includes(key)) : undefined;
  const pipeline = new PipelineDoc(doc, identity ? { authority, signatures: nodeSignatures(identity) } : {});
  authority?.prime(pipeline.items);
  const items = pipeline.listItems().length;
  gc();
  gc();
  const heapBytes = Math.max(0, process.memoryUsage().heapUsed - before);
  // Keep the document alive until it was measured.
  doc.destroy();
  return { items, heapBytes, perItem: items ? Math.round(heapBytes / items) : 0 };
}
