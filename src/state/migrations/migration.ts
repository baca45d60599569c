import type * as Y from "yjs";

/**
 * One step of the document's shape, from schema `to - 1` to `to`. `migrate` is a pure function of
 * the document: it reads only the document, writes only the document (inside the caller's
 * transaction), and returns how many entries it changed. It must accept any value a replica may
 * hold (skip what it does not understand; the reader validates everything anyway).
 */
export interface Migration {
  to: number;
  name: string;
  migrate(doc: Y.Doc): number;
}
