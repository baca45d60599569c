import type * as Y from "yjs";
import { incomplete } from "../state/pending-updates.js";
import type { Group } from "./write-rights.js";

/**
 * Signed groups whose write this node refused, gathered per item and handed to `rewrite` after the
 * transaction that brought them (`defer`), in one batch. Never while the document holds updates it
 * cannot apply yet: Yjs holds such an update back but applies its deletions at once, so until the
 * missing one arrives a holder's valid move reads as a group without its fields, and a value
 * written back then could outlive the move and send the story back a stage (simulation seed 11).
 * The batch waits for the transaction that completes the document. `ForgeryRepair` and
 * `OwnWriteReassert` both act on such groups.
 */
export class RejectedGroups {
  private readonly pending = new Map<string, Set<Group>>();
  private scheduled = false;
  private waiting = false;
  private readonly onAfter = () => {
    if (!this.waiting || incomplete(this.doc)) return;
    this.waiting = false;
    this.schedule();
  };

  constructor(
    private readonly doc: Y.Doc,
    private readonly rewrite: (work: Array<[string, Set<Group>]>) => void,
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {
    doc.on("afterTransaction", this.onAfter);
  }

  add(item: string, group: Group): void {
    let set = this.pending.get(item);
    if (!set) this.pending.set(item, (set = new Set()));
    set.add(group);
    this.schedule();
  }

  close(): void {
    this.doc.off("afterTransaction", this.onAfter);
    this.pending.clear();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (incomplete(this.doc)) {
      this.waiting = true;
      return;
    }
    const work = [...this.pending];
    this.pending.clear();
    if (work.length) this.rewrite(work);
  }
}
