import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as Y from "yjs";
import { PipelineDoc } from "../src/state/pipeline-doc.js";

/**
 * What one stored item costs a replica in memory: the JavaScript heap a node holds for a
 * document of this shape (the Yjs structures, PipelineDoc's indexes, every item decoded once, as
 * a rendezvous serving the board has them), divided by its items. This is the growth the soak
 * allows beyond its 10 %: a node that stores more items legitimately holds more.
 */
export function heapBytesPerItem(state: Uint8Array): { items: number; heapBytes: number; perItem: number } {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  const pipeline = new PipelineDoc(doc);
  const items = pipeline.listItems().length;
  gc();
  gc();
  const heapBytes = Math.max(0, process.memoryUsage().heapUsed - before);
  // Keep the document alive until it was measured.
  doc.destroy();
  return { items, heapBytes, perItem: items ? Math.round(heapBytes / items) : 0 };
}
