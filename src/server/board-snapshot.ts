import * as Y from "yjs";
import { STAGES, type Stage } from "../pipeline/stages.js";
import { isOpenQuestion } from "../pipeline/board-query.js";
import { itemNumber } from "../pipeline/item-id.js";
import type { Item, NodeEntry } from "../state/item.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";

/** A card as the first view needs it: the item without its body (the live document brings that). */
export type BoardCard = Omit<Item, "body" | "review"> & { body: ""; hasQuestion?: true };

/** `GET /api/board`: what the board paints before its Yjs replica has loaded. */
export interface BoardSnapshot {
  /** Per stage: how many items it holds, and its newest `BOARD_SNAPSHOT_CARDS` as cards (none for archived). */
  stages: Record<Stage, { total: number; cards: BoardCard[] }>;
  nodes: NodeEntry[];
}

/**
 * Cards per column in the first view: more than a tall screen shows, far fewer than a long
 * column holds. Scrolling further waits for the live document (a second or two).
 */
export const BOARD_SNAPSHOT_CARDS = 60;

/**
 * The board's first paint, from this node's replica. A board is a Yjs client and stays one; but
 * a 10 000-story document is megabytes that take a browser a second or more to decode, and a
 * person should see the columns before that. So the board first asks for the top of each column
 * (newest into the stage first, the board's order), bodies left out, archived only counted.
 * Ordering reads one field per item; only the cards sent are decoded.
 */
export function boardSnapshot(pipeline: PipelineDoc): BoardSnapshot {
  return { stages: boardStages(pipeline), nodes: pipeline.listNodes() };
}

function boardStages(pipeline: PipelineDoc): BoardSnapshot["stages"] {
  const stages = {} as BoardSnapshot["stages"];
  for (const stage of STAGES) {
    const ids = pipeline.idsIn(stage);
    stages[stage] = { total: ids.size, cards: stage === "archived" ? [] : newest(pipeline, ids, BOARD_SNAPSHOT_CARDS) };
  }
  return stages;
}

/**
 * `boardSnapshot` with its columns kept until an item changes: heartbeats and claim requests
 * (what `PipelineDoc.lazy` calls lazy) leave them as they are, so boards opened one after another
 * on a busy project cost one ordering of its stories, not one each.
 */
export class BoardSnapshots {
  private stages: BoardSnapshot["stages"] | undefined;

  constructor(private readonly pipeline: PipelineDoc) {
    pipeline.doc.on("afterTransaction", (tr: Y.Transaction) => {
      if (this.stages && !pipeline.lazy(tr) && tr.changed.size > 0) this.stages = undefined;
    });
  }

  get(): BoardSnapshot {
    this.stages ??= boardStages(this.pipeline);
    return { stages: this.stages, nodes: this.pipeline.listNodes() };
  }
}

function newest(pipeline: PipelineDoc, ids: ReadonlySet<string>, n: number): BoardCard[] {
  const keyed: Array<{ id: string; at: number; n: number }> = [];
  for (const id of ids) {
    const raw = pipeline.items.get(id);
    const at = raw instanceof Y.Map ? Number(raw.get("stageAt") ?? raw.get("createdAt")) : 0;
    keyed.push({ id, at: Number.isFinite(at) ? at : 0, n: itemNumber(id) });
  }
  keyed.sort((a, b) => b.at - a.at || b.n - a.n);
  const out: BoardCard[] = [];
  for (const { id } of keyed.slice(0, n)) {
    const item = pipeline.getItem(id);
    if (!item) continue;
    const { body: _body, review: _review, ...card } = item;
    const raw = pipeline.items.get(id);
    const question = raw instanceof Y.Map && isOpenQuestion(raw.get("question"));
    out.push({ ...card, body: "", ...(question ? { hasQuestion: true } : {}) });
  }
  return out;
}
