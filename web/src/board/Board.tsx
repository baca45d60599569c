import { memo, useMemo } from "react";
import type { StuckConfig } from "../../../src/pipeline/stuck-hint";
import { isFiltered, matcher, type BoardQuery } from "../../../src/pipeline/board-query";
import { STAGES, type Stage } from "../types";
import type { BoardItem, BoardNode } from "../board-data/protocol";
import { boardStore } from "../board-data/board-store";
import { useNow } from "../use-now";
import { Column } from "./Column";
import { CARD_HELP_ID } from "./Card";
import { useMoves } from "../moves/use-moves";

/** Card ages are minutes-grained: re-render the board twice a minute, not every second. */
const CARD_TICK_MS = 30_000;

/**
 * The columns. Each shows the cards of its stage that match the search and filters, windowed;
 * `archived` is collapsed to a count until opened (and its cards are not rendered until then).
 */
export const Board = memo(function Board({
  version,
  query,
  onQuery,
  labels,
  nodes,
  cfg,
  onSelect,
}: {
  /** The store's version: a new one re-reads the columns. */
  version: number;
  query: BoardQuery;
  onQuery: (q: BoardQuery) => void;
  labels: Map<string, string>;
  nodes: BoardNode[];
  cfg: StuckConfig;
  onSelect: (id: string) => void;
}) {
  const now = useNow(CARD_TICK_MS);
  const stages = query.stage ? [query.stage] : STAGES;
  const columns = useMemo(() => {
    const match = isFiltered(query) ? matcher(query) : undefined;
    return stages.map((stage) => {
      const collapsed = stage === "archived" && !query.archived && query.stage !== "archived";
      // A collapsed column renders no cards; with a search it still says how many would match.
      const all: BoardItem[] = collapsed && !match ? [] : boardStore.column(stage);
      return { stage, collapsed, total: boardStore.count(stage), cards: match ? all.filter(match) : all };
    });
    // `version` stands for the store's content.
  }, [version, query]);
  return (
    <main className="board" aria-label="board">
      <p id={CARD_HELP_ID} className="sr-only">
        Enter opens the story. Space picks the card up to move it: left and right arrows choose a column, Space drops it, Escape cancels.
      </p>
      {columns.map(({ stage, collapsed, total, cards }) =>
        collapsed ? (
          <CollapsedColumn
            key={stage}
            stage={stage}
            total={total}
            matches={isFiltered(query) && boardStore.live ? cards.length : undefined}
            onOpen={() => onQuery({ ...query, archived: true })}
          />
        ) : (
          <Column
            key={stage}
            stage={stage}
            cards={cards}
            total={total}
            labels={labels}
            nodes={nodes}
            cfg={cfg}
            now={now}
            onSelect={onSelect}
            loading={!boardStore.live && cards.length < total}
            action={
              stage === "archived" ? (
                <button type="button" className="column-toggle" onClick={() => onQuery({ ...query, archived: false })}>
                  hide
                </button>
              ) : undefined
            }
          />
        ),
      )}
    </main>
  );
});

/** A stage shown as its count only (archived, until a person opens it). */
function CollapsedColumn({ stage, total, matches, onOpen }: { stage: Stage; total: number; matches?: number; onOpen: () => void }) {
  const { picked } = useMoves();
  const target = picked?.target === stage && picked.from !== stage;
  return (
    <section className={`column collapsed${target ? " drop-target" : ""}`} data-stage={stage} aria-label={stage}>
      <h2>
        {stage}{" "}
        <span className="count" data-testid={`count-${stage}`}>
          {total}
        </span>
      </h2>
      <button type="button" className="column-toggle" onClick={onOpen} disabled={total === 0}>
        show {total} {stage}
        {matches !== undefined ? ` (${matches} match${matches === 1 ? "" : "es"})` : ""}
      </button>
    </section>
  );
}
