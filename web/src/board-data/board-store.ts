import { STAGES, type Stage } from "../types";
import type { BoardSnapshot } from "../../../src/server/board-snapshot";
import type { BoardItem, BoardNode, Connection, FromWorker } from "./protocol";

/** How long a card dragged to another column waits there for the document to confirm the move. */
const PENDING_MOVE_MS = 10_000;

const itemNumber = (id: string) => parseInt(id, 10) || 0;

/**
 * Newest first: the card that last entered a column is on top (a story just filed, the story
 * just merged); equal times by number, newest first. A windowed column shows its top, so this is
 * also what is in view without scrolling.
 */
function newestFirst(a: BoardItem, b: BoardItem): number {
  return b.stageAt - a.stageAt || itemNumber(b.id) - itemNumber(a.id);
}

/**
 * Everything the board shows, held on the page's thread as plain objects: the first-paint
 * snapshot until the sync worker has the live document, then the worker's items and deltas.
 * Items are replaced, never mutated, so React (and the search cache) can compare by identity.
 * Per-column lists are re-sorted only for the columns a change touched.
 */
export class BoardStore {
  private items = new Map<string, BoardItem>();
  private staging: Map<string, BoardItem> | undefined;
  private columns = new Map<Stage, BoardItem[]>();
  private dirty = new Set<Stage>(STAGES);
  private pending = new Map<string, { stage: Stage; until: number }>();
  private listeners = new Set<() => void>();
  private totalsFromSnapshot = new Map<Stage, number>();
  nodes: BoardNode[] = [];
  connection: Connection = "connecting";
  /** The link was up at least once: later drops are shown as such, the first connect is not. */
  wasConnected = false;
  /** The worker has the whole live document (bodies, archived items). */
  live = false;
  /** Bumped on every change: React's `useSyncExternalStore` reads it. */
  version = 0;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getVersion = (): number => this.version;

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  get(id: string): BoardItem | undefined {
    return this.items.get(id);
  }

  /** Every item held (archived ones only once live). */
  all(): IterableIterator<BoardItem> {
    return this.items.values();
  }

  /** The cards of a column, newest first, with moves still in flight shown where they were dropped. */
  column(stage: Stage): BoardItem[] {
    if (this.dirty.has(stage) || !this.columns.has(stage)) {
      const list: BoardItem[] = [];
      for (const item of this.items.values()) if (this.shownStage(item) === stage) list.push(item);
      this.columns.set(stage, list.sort(newestFirst));
      this.dirty.delete(stage);
    }
    return this.columns.get(stage)!;
  }

  /** How many items are in `stage` (as the snapshot counted them, until the document is live). */
  count(stage: Stage): number {
    return this.live ? this.column(stage).length : (this.totalsFromSnapshot.get(stage) ?? this.column(stage).length);
  }

  private shownStage(item: BoardItem): Stage {
    return this.pending.get(item.id)?.stage ?? item.stage;
  }

  /** The server's first-paint view; ignored once the live document is here. */
  applySnapshot(s: BoardSnapshot): void {
    if (this.live) return;
    for (const stage of STAGES) {
      const part = s.stages[stage];
      if (!part) continue;
      this.totalsFromSnapshot.set(stage, part.total);
      for (const card of part.cards) this.items.set(card.id, { ...card, partial: true });
    }
    if (!this.nodes.length) this.nodes = s.nodes;
    this.markAll();
    this.changed();
  }

  apply(m: FromWorker): void {
    if (m.t === "connection") {
      if (m.state === this.connection) return;
      this.connection = m.state;
      if (m.state === "connected") this.wasConnected = true;
    } else if (m.t === "nodes") {
      this.nodes = m.nodes;
    } else if (m.t === "items") {
      if (m.phase === "begin") this.staging = new Map();
      if (m.phase !== "delta") {
        // A full view arrives in chunks and replaces the held items in one step at its end.
        const staging = (this.staging ??= new Map());
        for (const item of m.upserts) staging.set(item.id, item);
        if (m.phase !== "end") return;
        this.items = staging;
        this.staging = undefined;
        this.live = true;
        this.confirmPending();
        this.markAll();
      } else {
        for (const id of m.deletes) {
          this.touch(this.items.get(id));
          this.items.delete(id);
        }
        for (const item of m.upserts) {
          this.touch(this.items.get(item.id));
          this.items.set(item.id, item);
          this.touch(item);
        }
        this.confirmPending();
      }
    } else return;
    this.changed();
  }

  /** A dragged card shows in its new column at once; `settle` ends that (refused, or confirmed). */
  moveOptimistically(id: string, stage: Stage, now = Date.now()): void {
    const item = this.items.get(id);
    if (!item || item.stage === stage) return;
    this.touch(item);
    this.pending.set(id, { stage, until: now + PENDING_MOVE_MS });
    this.touch(item);
    this.changed();
  }

  /**
   * The move was answered. Refused: the card snaps back now. Accepted: it stays in its new column
   * until the document says so too (the answer and the document's update race each other).
   */
  settle(id: string, accepted: boolean): void {
    const p = this.pending.get(id);
    if (!p) return;
    if (accepted && this.items.get(id)?.stage !== p.stage) return;
    this.pending.delete(id);
    this.touch(this.items.get(id), p.stage);
    this.changed();
  }

  private confirmPending(now = Date.now()): void {
    for (const [id, p] of this.pending) {
      const item = this.items.get(id);
      if (!item || item.stage === p.stage || p.until < now) {
        this.pending.delete(id);
        this.touch(item, p.stage);
      }
    }
  }

  /** Mark the columns an item is (or is shown) in as needing a re-sort. */
  private touch(item: BoardItem | undefined, also?: Stage): void {
    if (item) {
      this.dirty.add(item.stage);
      this.dirty.add(this.shownStage(item));
    }
    if (also) this.dirty.add(also);
  }

  private markAll(): void {
    for (const s of STAGES) this.dirty.add(s);
  }
}

export const boardStore = new BoardStore();
