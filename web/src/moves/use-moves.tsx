import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { api } from "../use-pipeline";
import { boardStore } from "../board-data/board-store";
import type { Stage } from "../types";

/** A move the server refused: the card went back, and this says why. */
export interface RefusedMove {
  id: string;
  name: string;
  to: Stage;
  reason: string;
}

/** A card picked up with the keyboard, and the column it would go to. */
export interface PickedCard {
  id: string;
  name: string;
  from: Stage;
  target: Stage;
}

export interface Moves {
  /** The card being dragged with the mouse (or a finger), if any. */
  dragging: string | null;
  setDragging: (id: string | null) => void;
  picked: PickedCard | null;
  pick: (p: PickedCard | null) => void;
  /** The same checked move as the story view's menu: `POST /api/stories/:id/move`. */
  move: (id: string, to: Stage) => Promise<boolean>;
  refused: RefusedMove | null;
  dismiss: () => void;
  /** What a screen reader hears about moves (an aria-live region shows it). */
  announcement: string;
  announce: (text: string) => void;
}

const MovesContext = createContext<Moves | null>(null);

export function useMoves(): Moves {
  const m = useContext(MovesContext);
  if (!m) throw new Error("useMoves outside <MovesProvider>");
  return m;
}

/**
 * Moving cards between columns, by drag or by keyboard. The card shows in its new column at once;
 * a refused move snaps it back and keeps the server's reason on screen until dismissed.
 */
export function MovesProvider({ children }: { children: ReactNode }) {
  const [dragging, setDragging] = useState<string | null>(null);
  const [picked, setPicked] = useState<PickedCard | null>(null);
  const [refused, setRefused] = useState<RefusedMove | null>(null);
  const [announcement, announce] = useState("");
  const inFlight = useRef(new Set<string>());

  const move = useCallback(async (id: string, to: Stage): Promise<boolean> => {
    const item = boardStore.get(id);
    if (!item || item.stage === to || inFlight.current.has(id)) return false;
    inFlight.current.add(id);
    boardStore.moveOptimistically(id, to);
    setRefused(null);
    try {
      await api("POST", `/api/stories/${encodeURIComponent(id)}/move`, { stage: to });
      boardStore.settle(id, true);
      announce(`Moved “${item.name}” to ${to}.`);
      return true;
    } catch (err) {
      boardStore.settle(id, false);
      const reason = (err as Error).message;
      setRefused({ id, name: item.name, to, reason });
      announce(`“${item.name}” stays in ${item.stage}: ${reason}`);
      return false;
    } finally {
      inFlight.current.delete(id);
    }
  }, []);

  const value = useMemo<Moves>(
    () => ({ dragging, setDragging, picked, pick: setPicked, move, refused, dismiss: () => setRefused(null), announcement, announce }),
    [dragging, picked, move, refused, announcement],
  );
  return <MovesContext.Provider value={value}>{children}</MovesContext.Provider>;
}

/** The server's refusal, shown where the board is, until dismissed or the next move. */
export function RefusedMoveNotice() {
  const { refused, dismiss } = useMoves();
  if (!refused) return null;
  return (
    <div className="refused" role="alert" data-testid="refused-move">
      <span>
        Could not move “{refused.name}” to {refused.to}: {refused.reason}
      </span>
      <button type="button" onClick={dismiss} aria-label="dismiss">
        ×
      </button>
    </div>
  );
}

/** A polite live region: what a keyboard move did, for screen readers. */
export function MoveAnnouncer() {
  const { announcement } = useMoves();
  return (
    <div className="sr-only" aria-live="polite" role="status" data-testid="move-announcer">
      {announcement}
    </div>
  );
}
