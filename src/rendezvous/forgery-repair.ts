import * as Y from "yjs";
import type { Logger } from "pino";
import type { Claims } from "../state/claims.js";
import type { ItemAuthority } from "../trust/item-authority.js";
import { RejectedGroups } from "../trust/rejected-groups.js";
import { GROUP_NAMES, GROUPS, type Group } from "../trust/write-rights.js";

/**
 * The rendezvous puts back what an unverified write changed (issue 27): the last valid value of
 * the group, exactly as it was signed, or, for an item that never had a valid existence record
 * (planted), a deletion. Every reader already ignores the forgery; writing the valid value back
 * means it does not linger in the document for stock Yjs clients, or for a node that starts
 * afresh from this replica. Runs after the transaction that brought the forgery, once per burst.
 */
export class ForgeryRepair {
  private rejected: RejectedGroups | undefined;
  private readonly deleted = new Set<string>();
  private restoring = false;
  private off: () => void = () => undefined;

  constructor(
    private readonly claims: Claims,
    private readonly authority: ItemAuthority,
    private readonly log: Logger,
    /** Runs the repair after the transaction that brought the forgery (a simulation passes its clock's). */
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {}

  start(): void {
    // Only the rendezvous deletes items (REST/MCP/board `remove`, and this repair), always in a
    // local transaction: a deletion that arrives from a peer is a forgery nobody signed.
    const items = this.claims.pipeline.items;
    const onDelete = (ev: Y.YMapEvent<unknown>, tr: Y.Transaction) => {
      if (tr.local) return;
      for (const [id, change] of ev.changes.keys) if (change.action === "delete") this.deleted.add(id);
      if (this.deleted.size && !this.restoring) {
        this.restoring = true;
        this.defer(() => this.restoreDeleted());
      }
    };
    items.observe(onDelete);
    const rejected = (this.rejected = new RejectedGroups(this.claims.pipeline.doc, (work) => this.repair(work), this.defer));
    const offRejected = this.authority.onRejected((w) => {
      this.log.warn({ story: w.item, group: w.group, reason: w.reason }, "ignoring an unverified write; restoring the last valid value");
      rejected.add(w.item, w.group);
    });
    this.off = () => {
      offRejected();
      items.unobserve(onDelete);
      rejected.close();
    };
  }

  stop(): void {
    this.off();
    this.deleted.clear();
  }

  /** Put back items a peer deleted, from the last valid value of each signed group. */
  private restoreDeleted(): void {
    this.restoring = false;
    const pipeline = this.claims.pipeline;
    const ids = [...this.deleted];
    this.deleted.clear();
    for (const id of ids) {
      if (pipeline.items.has(id)) continue;
      const fields: Record<string, unknown> = {};
      const groups = GROUP_NAMES.map((g) => [g, this.authority.lastValid(id, g)] as const);
      // Never valid here (a planted item, or one this node had not read yet): nothing to put back.
      if (!groups.every(([, v]) => v)) continue;
      for (const [g, v] of groups) Object.assign(fields, v!.values, { [GROUPS[g].sigKey]: v!.record });
      this.authority.countUnverified(`delete\0${id}`);
      this.log.warn({ story: id }, "ignoring an item deletion from a peer; restoring the item");
      try {
        pipeline.restoreItem(id, fields);
      } catch (err) {
        this.log.error({ err, story: id }, "could not restore an item a peer deleted");
      }
    }
  }

  /** Put back the last valid value of each group (never while the document waits: `RejectedGroups`). */
  private repair(work: Array<[string, Set<Group>]>): void {
    const pipeline = this.claims.pipeline;
    pipeline.transact(() => {
      for (const [id, groups] of work) {
        try {
          const m = pipeline.items.get(id);
          if (!(m instanceof Y.Map)) continue;
          const item = m as Y.Map<unknown>;
          for (const group of groups) {
            if (this.authority.verifies(id, item, group)) continue;
            const valid = this.authority.lastValid(id, group);
            if (valid) {
              this.claims.restore(id, GROUPS[group].fields, valid.values, GROUPS[group].sigKey, valid.record);
            } else if (group === "item" || group === "place") {
              this.log.warn({ story: id }, "deleting an item nobody allowed to create it signed");
              pipeline.deleteItem(id);
              break;
            }
          }
        } catch (err) {
          this.log.error({ err, story: id }, "could not restore an item after an unverified write");
        }
      }
    }, "repair");
  }
}

/**
 * Sign, once, the items of a replica from before signed writes (the rendezvous vouches for what
 * it already held). Guarded by a flag in the node's own SQLite, never in the document, so a
 * planted item cannot be blessed by deleting a marker.
 */
export function adoptUnsignedItems(claims: Claims, authority: ItemAuthority, done: { get(): boolean; set(): void }, log: Logger): void {
  if (done.get()) return;
  const pipeline = claims.pipeline;
  let n = 0;
  pipeline.transact(() => {
    pipeline.items.forEach((m, id) => {
      if (m instanceof Y.Map && authority.adopt(id, m as Y.Map<unknown>).length) n += 1;
    });
  }, "adopt");
  done.set();
  // The transaction's observers have read every touched item again: no second pass needed.
  if (n) log.info({ items: n }, "signed the items of a replica from before signed writes");
}
