import type { Item, NodeEntry } from "../types";

/** An item as the board holds it: the document's item, plus what the board derives from it. */
export type BoardItem = Item & {
  /** The item has an open question for a person (the document's `question` field). */
  hasQuestion?: boolean;
  /** From the first-paint snapshot: the body is not loaded yet (the live document brings it). */
  partial?: boolean;
};

/** A node entry as every node reads it (`version`: the huskies release it runs, when it says). */
export type BoardNode = NodeEntry;

export type Connection = "connecting" | "connected" | "disconnected";

/** main thread → sync worker */
export type ToWorker = { t: "start"; wsBase: string; token?: string };

/**
 * sync worker → main thread. The first complete view after a sync is sent as `full` in chunks
 * (`begin` … `end`), so no single message holds the whole project; later changes are deltas.
 */
export type FromWorker =
  | { t: "connection"; state: Connection }
  | { t: "items"; phase: "begin" | "chunk" | "end" | "delta"; upserts: BoardItem[]; deletes: string[] }
  | { t: "nodes"; nodes: BoardNode[] }
  | { t: "malformed"; count: number };
