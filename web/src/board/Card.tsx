import { memo, type DragEvent, type KeyboardEvent } from "react";
import { STAGES, type Stage } from "../types";
import type { BoardItem } from "../board-data/protocol";
import { shortAge } from "../use-now";
import { useMoves } from "../moves/use-moves";
import { CardNotes } from "../StoryQuestion";

/** The drag payload's type: only huskies cards are dropped on columns. */
export const CARD_MIME = "application/x-huskies-item";

/** Read by screen readers with every card (`aria-describedby`), once in the page. */
export const CARD_HELP_ID = "card-help";

/**
 * One story on the board. Click (or Enter) opens it; drag it to another column to move it; or
 * with the keyboard: Space picks it up, ← → choose the column, Space drops, Escape cancels.
 */
export const Card = memo(function Card({
  item,
  holder,
  hint,
  now,
  onSelect,
  first,
}: {
  item: BoardItem;
  holder?: string;
  hint?: string;
  now: number;
  onSelect: (id: string) => void;
  /** The column's first card: marked for the Element Timing API, so tests measure when it is painted. */
  first?: boolean;
}) {
  const moves = useMoves();
  const picked = moves.picked?.id === item.id ? moves.picked : null;
  const run = item.lastRun;
  const since = item.stageAt || item.createdAt;

  const onKeyDown = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (!picked) {
      if (e.key !== " ") return;
      // Space picks up (the button's own Space-click is held back in onKeyUp); Enter still opens.
      e.preventDefault();
      moves.pick({ id: item.id, name: item.name, from: item.stage, target: item.stage });
      moves.announce(`Picked up “${item.name}” in ${item.stage}. Left and right arrows choose a column, Space drops, Escape cancels.`);
      return;
    }
    const at = STAGES.indexOf(picked.target);
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      const target: Stage = STAGES[Math.min(STAGES.length - 1, Math.max(0, at + (e.key === "ArrowRight" ? 1 : -1)))]!;
      moves.pick({ ...picked, target });
      moves.announce(target === picked.from ? `Back over ${target}, where it is.` : `Over ${target}. Space drops it there.`);
    } else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      moves.pick(null);
      if (picked.target === picked.from) moves.announce(`“${item.name}” stays in ${picked.from}.`);
      else void moves.move(item.id, picked.target);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      moves.pick(null);
      moves.announce(`Move cancelled; “${item.name}” stays in ${picked.from}.`);
    }
  };

  const onDragStart = (e: DragEvent<HTMLButtonElement>) => {
    e.dataTransfer.setData(CARD_MIME, item.id);
    e.dataTransfer.setData("text/plain", item.id);
    e.dataTransfer.effectAllowed = "move";
    moves.setDragging(item.id);
  };

  return (
    <button
      className={`card${item.blocked ? " blocked" : ""}${hint ? " stuck" : ""}${picked ? " picked" : ""}${moves.dragging === item.id ? " dragging" : ""}`}
      data-id={item.id}
      draggable
      onDragStart={onDragStart}
      onDragEnd={() => moves.setDragging(null)}
      onClick={() => onSelect(item.id)}
      onKeyDown={onKeyDown}
      onKeyUp={(e) => e.key === " " && e.preventDefault()}
      onBlur={() => picked && moves.pick(null)}
      aria-describedby={CARD_HELP_ID}
      aria-pressed={picked ? true : undefined}
    >
      <span className={`type type-${item.type}`}>{item.type}</span>
      <span className="name" {...(first ? { elementtiming: `first-card-${item.stage}` } : {})}>
        {item.name}
      </span>
      <span className="meta">
        <span className="id">{item.id.split("_")[0]}</span>
        {holder && (
          <span className="holder" title="claimed by">
            ⚙ {holder}
          </span>
        )}
        {since > 0 && (
          <span className="age" title={`in ${item.stage} since ${new Date(since).toLocaleString()}`}>
            {shortAge(now - since)} in {item.stage}
          </span>
        )}
        {item.retries > 0 && (
          <span className="retries" title="failed attempts">
            ↻ {item.retries}
          </span>
        )}
        {item.hasQuestion && (
          <span className="question" title="waiting for an answer from a person">
            ? question
          </span>
        )}
        {run && (
          <span className="run" title="last run">
            {run.turns !== undefined ? `${run.turns} turns` : `${Math.round(run.durationMs / 1000)}s`}
            {run.costUsd !== undefined ? ` · $${run.costUsd.toFixed(3)}` : ""}
          </span>
        )}
      </span>
      {item.blocked && <span className="reason">blocked: {item.blocked}</span>}
      <CardNotes item={item} />
      {run?.error && !item.blocked && (
        <span className="run-error" title={run.error}>
          last run: {run.error.split("\n")[0]}
        </span>
      )}
      {hint && (
        <span className="hint" data-testid="stuck-hint">
          ⚠ {hint}
        </span>
      )}
    </button>
  );
});
