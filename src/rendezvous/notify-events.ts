import * as Y from "yjs";
import type { Stage } from "../pipeline/stages.js";
import type { NotifyEvent } from "./notifier.js";

export interface Paused {
  reason: string;
  since: number;
  until: number | null;
}

/**
 * What the event deriver needs of the document: the raw `items` and `nodes` maps and stage
 * events. `PipelineDoc` is one; a test can pass any Yjs document's maps.
 */
export interface NotifySource {
  items: Y.Map<Y.Map<unknown>>;
  nodes: Y.Map<Y.Map<unknown>>;
  onStageChange(cb: (ev: { id: string; from: Stage | undefined; to: Stage | undefined }) => void): () => void;
}

export interface WatchOptions {
  /**
   * A node's pause as the trusted view has it (signed entries checked). Defaults to the raw map,
   * which is right only where nobody can plant entries.
   */
  nodePaused?: (nodeId: string) => Paused | null | undefined;
  now?: () => number;
  /** Errors inside Yjs observers are logged here and never thrown. */
  onError?: (err: unknown) => void;
}

/**
 * Derive notification events from document changes, whichever replica made them:
 * - `blocked`: an item's `blocked` goes from empty to a reason;
 * - `done`: an item's stage changes to `done`;
 * - `merge_failed`: an item leaves `merge` back to `current` (the reason is its `failure`);
 * - `paused`: a node entry's `paused` becomes non-null.
 * State at the time of the call is the baseline: nothing already blocked or paused is reported.
 * Run it on one node (the rendezvous), or every node would notify. Returns a stop function.
 */
export function watchNotifyEvents(src: NotifySource, emit: (ev: NotifyEvent) => void, opts: WatchOptions = {}): () => void {
  const now = opts.now ?? Date.now;
  const paused = opts.nodePaused ?? ((id: string) => asPaused(src.nodes.get(id)?.get("paused")));
  const blockedOf = (id: string) => {
    const b = src.items.get(id)?.get("blocked");
    return typeof b === "string" && b.trim() ? b : undefined;
  };
  const failureOf = (id: string) => {
    const f = src.items.get(id)?.get("failure");
    return typeof f === "string" && f ? f.split("\n")[0]!.slice(0, 500) : undefined;
  };
  const safe = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A) => {
    try {
      fn(...a);
    } catch (err) {
      opts.onError?.(err);
    }
  };

  const wasBlocked = new Set<string>();
  src.items.forEach((_m, id) => { if (blockedOf(id)) wasBlocked.add(id); });
  const wasPaused = new Set<string>();
  src.nodes.forEach((_m, id) => { if (paused(id)) wasPaused.add(id); });

  const stopStages = src.onStageChange(safe(({ id, from, to }) => {
    if (to === "done" && from !== "done") emit({ event: "done", story: id, at: now() });
    if (from === "merge" && to === "current") emit({ event: "merge_failed", story: id, reason: failureOf(id), at: now() });
  }));

  const onItems = safe((events: Array<Y.YEvent<any>>) => {
    for (const id of touched(events, src.items, "blocked")) {
      const reason = blockedOf(id);
      if (reason && !wasBlocked.has(id)) emit({ event: "blocked", story: id, reason, at: now() });
      if (reason) wasBlocked.add(id);
      else wasBlocked.delete(id);
    }
  });
  const onNodes = safe((events: Array<Y.YEvent<any>>) => {
    for (const id of touched(events, src.nodes, "paused")) {
      const p = paused(id);
      if (p && !wasPaused.has(id)) emit({ event: "paused", node: id, reason: p.reason, at: now() });
      if (p) wasPaused.add(id);
      else wasPaused.delete(id);
    }
  });
  src.items.observeDeep(onItems);
  src.nodes.observeDeep(onNodes);
  return () => {
    stopStages();
    src.items.unobserveDeep(onItems);
    src.nodes.unobserveDeep(onNodes);
  };
}

/** Keys of `map` whose entry was added/replaced, or whose `field` changed inside the entry. */
function touched(events: Array<Y.YEvent<any>>, map: Y.Map<Y.Map<unknown>>, field: string): Set<string> {
  const ids = new Set<string>();
  for (const ev of events) {
    if (ev.target === map) for (const k of (ev as Y.YMapEvent<unknown>).keysChanged) ids.add(k);
    // `path` is relative to the observed map: [key] for a change inside one entry.
    else if (ev.target.parent === map && (ev as Y.YMapEvent<unknown>).keysChanged?.has(field) && typeof ev.path[0] === "string") ids.add(ev.path[0]);
  }
  return ids;
}

function asPaused(v: unknown): Paused | null {
  if (!v || typeof v !== "object") return null;
  const p = v as Partial<Paused>;
  return typeof p.reason === "string" ? { reason: p.reason, since: Number(p.since ?? 0), until: typeof p.until === "number" ? p.until : null } : null;
}
