import * as Y from "yjs";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { ItemAuthority } from "../trust/item-authority.js";
import { GROUP_NAMES, GROUPS, type Group } from "../trust/write-rights.js";

/**
 * A recovered rendezvous signs every item again with its own key. Items were written (and claims
 * granted) under the lost rendezvous key, which stops being an operator key once agents follow
 * the new one: without this the new rendezvous, and every agent after it, would read the whole
 * pipeline as unsigned writes (and the rendezvous would delete items "nobody allowed to create").
 *
 * `authority` must count both the lost key and the new one as operator keys: only what verifies
 * now is signed again, with its values unchanged, so nothing a forger slipped into the replica
 * is laundered. A claim the lost key granted is granted again by the new key (same node, time,
 * epoch and stage) before its group is sealed. Returns how many items were signed again.
 */
export function resealItems(pipeline: PipelineDoc, authority: ItemAuthority, lostKey: string): number {
  const items = pipeline.doc.getMap<unknown>("items");
  let n = 0;
  pipeline.transact(() => {
    items.forEach((v, id) => {
      if (!(v instanceof Y.Map)) return;
      const m = v as Y.Map<unknown>;
      const valid: Group[] = GROUP_NAMES.filter((g) => m.get(GROUPS[g].sigKey) !== undefined && authority.verifies(id, m, g));
      if (!valid.length) return;
      if (valid.includes("place")) authority.regrant(id, m, lostKey);
      authority.seal(id, m, valid, { as: "operator" }, false);
      n += 1;
    });
  });
  return n;
}
