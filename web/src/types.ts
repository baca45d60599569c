/**
 * The document shape the board reads: the server's own types (type-only imports, nothing of the
 * server is bundled) and its stage list, so the two cannot drift apart.
 */
export { STAGES, type Stage } from "../../src/pipeline/stages";
import type { Item as ServerItem, NodeEntry as ServerNode } from "../../src/state/item";

export type Item = ServerItem;

/** A node's pause (issue 13): `until` null is a manual pause, lifted only by a resume. */
export interface Paused {
  reason: string;
  since: number;
  until: number | null;
}

/**
 * A node entry as the board reads it. `paused` is declared here until the server's NodeEntry
 * carries it (wave 2 adds it to the document contract); then this becomes `ServerNode`.
 */
export type NodeEntry = ServerNode & { paused?: Paused | null };
