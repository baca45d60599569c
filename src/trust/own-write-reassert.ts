import * as Y from "yjs";
import type { Logger } from "pino";
import type { Claims } from "../state/claims.js";
import type { ItemAuthority } from "./item-authority.js";
import { RejectedGroups } from "./rejected-groups.js";
import { GROUPS, type Group } from "./write-rights.js";

/**
 * Every node writes back its own newer write that the document lost to an older one (see
 * `ItemAuthority.ownNewer`): the rendezvous putting back the value a stale holder's write
 * replaced can win the CRDT's tie-break over the new holder's concurrent move, and the holder,
 * which verified its move, then refuses the put-back as a replay while everyone else reads it.
 * Written back exactly as signed, the move is the newest write everywhere and the replicas agree
 * again (simulation seeds 22, 67, 163, 179). Waits, as `ForgeryRepair` does, while the document
 * holds updates it cannot apply yet (`RejectedGroups`).
 */
export class OwnWriteReassert {
  private off: () => void = () => undefined;

  constructor(
    private readonly claims: Claims,
    private readonly authority: ItemAuthority,
    private readonly log: Logger,
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {}

  start(): void {
    const rejected = new RejectedGroups(this.claims.pipeline.doc, (work) => this.run(work), this.defer);
    const offRejected = this.authority.onRejected((w) => rejected.add(w.item, w.group));
    this.off = () => {
      offRejected();
      rejected.close();
    };
  }

  stop(): void {
    this.off();
  }

  private run(work: Array<[string, Set<Group>]>): void {
    const pipeline = this.claims.pipeline;
    pipeline.transact(() => {
      for (const [id, groups] of work) {
        const m = pipeline.items.get(id);
        if (!(m instanceof Y.Map)) continue;
        for (const group of groups) {
          const mine = this.authority.ownNewer(id, m as Y.Map<unknown>, group);
          if (!mine) continue;
          this.log.info({ story: id, group }, "writing back this node's newer write the document lost to an older one");
          this.claims.restore(id, GROUPS[group].fields, mine.values, GROUPS[group].sigKey, mine.record);
        }
      }
    }, "reassert");
  }
}
