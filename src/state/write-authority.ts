import type * as Y from "yjs";
import type { Claim } from "../pipeline/claim-rules.js";

export type SignedGroup = "item" | "place" | "work";

/**
 * Under whose right a write to an item is made: this node as an operator (the rendezvous: REST,
 * MCP, the board, the sequencer, housekeeping), or as the holder of a claim (the signed claim
 * it was granted, read from the document when its token was still good).
 */
export type Author = { as: "operator" } | { as: "holder"; claim: unknown };

/** Where an item's fields are read from: the document, with unverified groups at their last valid values. */
export interface FieldSource {
  get(field: string): unknown;
}

/**
 * How item writes are signed and checked (implemented in src/trust/item-authority.ts). The
 * document only stores; this decides what counts. Without one (unit tests of other rules),
 * every value counts as written.
 */
export interface WriteAuthority {
  /** The claim object a grant writes, signed by this node (an operator, or itself autonomously). */
  signClaim(itemId: string, claim: Claim): Record<string, unknown>;
  /**
   * Sign `groups` of item `m` as they are now, as `author` (inside the writing transaction). A
   * group is written whole: fields the write left alone are re-set as this node read them before
   * the write (`read` first), so a refused write in the document is never signed over.
   */
  seal(itemId: string, m: Y.Map<unknown>, groups: Iterable<SignedGroup>, author: Author): void;
  /** The verified view of an item; undefined while it has no valid existence record. */
  read(itemId: string, m: Y.Map<unknown>): FieldSource | undefined;
  /** The keys allowed to sign changed: check every item again. */
  recheck(): void;
  /** The item was deleted: forget what was known of it. */
  forget(itemId: string): void;
}
