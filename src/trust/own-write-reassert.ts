import * as Y from "yjs";
import type { Logger } from "pino";
import { incomplete } from "../state/pending-updates.js";
import type { Claims } from "../state/claims.js";
import type { ItemAuthority } from "./item-authority.js";
import { GROUPS, type Group } from "./write-rights.js";

/**
 * Every node writes back its own newer write that the document lost to an older one (see
 * `ItemAuthority.ownNewer`): the rendezvous putting back the value a stale holder's write
 * replaced can win the CRDT's tie-break over the new holder's concurrent move, and the holder,
 * which verified its move, then refuses the put-back as a replay while everyone else reads it.
 * Written back exactly as signed, the move is the newest write everywhere and the replicas agree
 * again (simulation seeds 22, 67, 163, 179). Waits, as `ForgeryRepair` does, while the document
 * holds updates it cannot apply yet.
 */
export class OwnWriteReassert {
  private readonly pending = new Map<string, Set<Group>>();
  private scheduled = false;
  private waiting = false;
  private off: () => void = () => undefined;

  constructor(
    private readonly claims: Claims,
    private readonly authority: ItemAuthority,
    private readonly log: Logger,
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {}

  start(): void {
    const offRejected = this.authority.onRejected((w) => {
      let set = this.pending.get(w.item);
      if (!set) this.pending.set(w.item, (set = new Set()));
      set.add(w.group);
      this.schedule();
    });
    const doc = this.claims.pipeline.doc;
    const onAfter = () => {
      if (!this.waiting || incomplete(doc)) return;
      this.waiting = false;
      this.schedule();
    };
    doc.on("afterTransaction", onAfter);
    this.off = () => {
      offRejected();
      doc.off("afterTransaction", onAfter);
    };
  }

  stop(): void {
    this.off();
    this.pending.clear();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const pipeline = this.claims.pipeline;
    if (incomplete(pipeline.doc)) {
      this.waiting = true;
      return;
    }
    const work = [...this.pending];
    this.pending.clear();
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
