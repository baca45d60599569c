import { memo, useRef, useState, type DragEvent, type ReactNode } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { whyStuck, type StuckConfig } from "../../../src/pipeline/stuck-hint";
import type { Stage } from "../types";
import type { BoardItem, BoardNode } from "../board-data/protocol";
import { useMoves } from "../moves/use-moves";
import { Card, CARD_MIME } from "./Card";

/** A card's height before it is measured (one line of name, one of meta): only the scrollbar uses it. */
const ESTIMATED_CARD_PX = 78;
/** Cards rendered beyond each edge of the visible part, so a quick scroll shows no gap. */
const OVERSCAN = 4;
/** Before the column has been laid out, render as if it were this tall (first paint). */
const INITIAL_HEIGHT_PX = 900;

/**
 * A column of cards, windowed: only the cards in view (and a few beyond) are in the DOM, so a
 * column of 4 000 done stories costs what a column of twenty does. It is also a drop target.
 */
export const Column = memo(function Column({
  stage,
  cards,
  total,
  labels,
  nodes,
  cfg,
  now,
  onSelect,
  loading,
  action,
}: {
  stage: Stage;
  cards: BoardItem[];
  /** Items in the stage before filtering (the header says "n of total" when they differ). */
  total: number;
  labels: Map<string, string>;
  nodes: BoardNode[];
  cfg: StuckConfig;
  now: number;
  onSelect: (id: string) => void;
  /** Only the top of the column is here yet (the first-paint snapshot). */
  loading?: boolean;
  /** A control in the header (the archived column's hide button). */
  action?: ReactNode;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const moves = useMoves();
  const [over, setOver] = useState(false);
  const v = useVirtualizer({
    count: cards.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ESTIMATED_CARD_PX,
    overscan: OVERSCAN,
    getItemKey: (i) => cards[i]!.id,
    initialRect: { width: 200, height: INITIAL_HEIGHT_PX },
  });
  const draggedHere = moves.dragging !== null && over;
  const pickedHere = moves.picked?.target === stage && moves.picked.from !== stage;

  const accepts = (e: DragEvent) => moves.dragging !== null || e.dataTransfer.types.includes(CARD_MIME);
  const onDragOver = (e: DragEvent<HTMLElement>) => {
    if (!accepts(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (!over) setOver(true);
  };
  const onDrop = (e: DragEvent<HTMLElement>) => {
    setOver(false);
    const id = e.dataTransfer.getData(CARD_MIME) || moves.dragging;
    moves.setDragging(null);
    if (!id) return;
    e.preventDefault();
    void moves.move(id, stage);
  };

  return (
    <section
      className={`column${draggedHere || pickedHere ? " drop-target" : ""}`}
      data-stage={stage}
      aria-label={stage}
      onDragOver={onDragOver}
      onDragLeave={(e) => !e.currentTarget.contains(e.relatedTarget as Node | null) && setOver(false)}
      onDrop={onDrop}
    >
      <h2>
        {stage}{" "}
        <span className="count" data-testid={`count-${stage}`}>
          {cards.length === total ? total : `${cards.length} of ${total}`}
        </span>
        {action}
      </h2>
      <div ref={scroller} className="column-cards" data-testid={`cards-${stage}`}>
        <div style={{ height: v.getTotalSize(), position: "relative" }}>
          {v.getVirtualItems().map((row) => {
            const item = cards[row.index]!;
            return (
              <div
                key={row.key}
                data-index={row.index}
                ref={v.measureElement}
                className="card-slot"
                style={{ transform: `translateY(${row.start}px)` }}
              >
                <Card
                  item={item}
                  now={now}
                  onSelect={onSelect}
                  first={row.index === 0}
                  holder={item.claim ? (labels.get(item.claim.node) ?? item.claim.node.slice(0, 8)) : undefined}
                  hint={whyStuck(item, nodes, now, cfg)}
                />
              </div>
            );
          })}
        </div>
        {loading && <p className="muted more">the rest of the column is loading…</p>}
      </div>
    </section>
  );
});
