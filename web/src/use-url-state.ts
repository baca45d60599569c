import { useCallback, useState } from "react";
import { formatQuery, parseQuery, type BoardQuery } from "../../src/pipeline/board-query";
import { isItemId } from "../../src/pipeline/item-id";

/** Write `search` into the address bar without a reload or a history entry per keystroke. */
function replaceSearch(search: string): void {
  history.replaceState(history.state, "", `${location.pathname}${search}${location.hash}`);
}

/** The board's search and filters, read from and written to the URL. */
export function useUrlQuery(): [BoardQuery, (q: BoardQuery) => void] {
  const [query, setQuery] = useState(() => parseQuery(location.search));
  const update = useCallback((q: BoardQuery) => {
    setQuery(q);
    replaceSearch(formatQuery(q, location.search));
  }, []);
  return [query, update];
}

/** The open story (`?story=ID`), so a link opens the board on it. */
export function useUrlStory(): [string | null, (id: string | null) => void] {
  const [story, setStory] = useState(() => {
    const id = new URLSearchParams(location.search).get("story");
    return id && isItemId(id) ? id : null;
  });
  const update = useCallback((id: string | null) => {
    setStory(id);
    const p = new URLSearchParams(location.search);
    if (id) p.set("story", id);
    else p.delete("story");
    const s = p.toString();
    replaceSearch(s ? `?${s}` : "");
  }, []);
  return [story, update];
}
