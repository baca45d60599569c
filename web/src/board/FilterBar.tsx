import { memo } from "react";
import { isFiltered, type BoardQuery } from "../../../src/pipeline/board-query";
import { ITEM_TYPES } from "../../../src/pipeline/item-id";
import { STAGES, type Stage } from "../types";
import type { BoardNode } from "../board-data/protocol";

/** Runtimes offered even before any story has run on them. */
const KNOWN_RUNTIMES = ["claude-code", "command"];

/**
 * The search box and the filters. Every change is written to the page's URL (see use-url-state),
 * so a filtered view can be shared as a link.
 */
export const FilterBar = memo(function FilterBar({
  query,
  onQuery,
  nodes,
  runtimes,
  live,
}: {
  query: BoardQuery;
  onQuery: (q: BoardQuery) => void;
  nodes: BoardNode[];
  /** Runtimes seen on the stories' last runs. */
  runtimes: string[];
  /** Bodies and archived stories are searched once the live document is here. */
  live: boolean;
}) {
  const set = (patch: Partial<BoardQuery>) => onQuery({ ...query, ...patch });
  const tri = (v: string): boolean | undefined => (v === "yes" ? true : v === "no" ? false : undefined);
  return (
    <form className="filters" role="search" aria-label="search and filters" onSubmit={(e) => e.preventDefault()}>
      <input
        type="search"
        name="q"
        aria-label="search stories"
        placeholder={live ? "Search names, text and ids" : "Search names and ids (text once loaded)"}
        value={query.q}
        onChange={(e) => set({ q: e.target.value })}
      />
      <label>
        type{" "}
        <select value={query.type ?? ""} onChange={(e) => set({ type: (e.target.value || undefined) as BoardQuery["type"] })}>
          <option value="">any</option>
          {ITEM_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </label>
      <label>
        stage{" "}
        <select value={query.stage ?? ""} onChange={(e) => set({ stage: (e.target.value || undefined) as Stage | undefined })}>
          <option value="">all</option>
          {STAGES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        holder{" "}
        <select value={query.holder ?? ""} onChange={(e) => set({ holder: e.target.value || undefined })}>
          <option value="">anyone</option>
          {nodes.map((n) => (
            <option key={n.id} value={n.id}>
              {n.label}
            </option>
          ))}
          {query.holder && !nodes.some((n) => n.id === query.holder) && <option value={query.holder}>{query.holder.slice(0, 8)}</option>}
        </select>
      </label>
      <label>
        blocked{" "}
        <select
          value={query.blocked === undefined ? "" : query.blocked ? "yes" : "no"}
          onChange={(e) => set({ blocked: tri(e.target.value) })}
        >
          <option value="">either</option>
          <option value="yes">blocked</option>
          <option value="no">not blocked</option>
        </select>
      </label>
      <label>
        <input type="checkbox" checked={!!query.question} onChange={(e) => set({ question: e.target.checked || undefined })} /> has a
        question
      </label>
      <label>
        runtime{" "}
        <select value={query.runtime ?? ""} onChange={(e) => set({ runtime: e.target.value || undefined })}>
          <option value="">any</option>
          {[...new Set([...KNOWN_RUNTIMES, ...runtimes, ...(query.runtime ? [query.runtime] : [])])].map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      {isFiltered(query) && (
        <button type="button" onClick={() => onQuery({ q: "", archived: query.archived })}>
          clear
        </button>
      )}
    </form>
  );
});
