/**
 * The document shape the board reads: the server's own types (type-only imports, nothing of the
 * server is bundled) and its stage list, so the two cannot drift apart.
 */
export { STAGES, type Stage } from "../../src/pipeline/stages";
export type { Item, NodeEntry, PauseState } from "../../src/state/item";
