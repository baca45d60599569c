import * as Y from "yjs";
import { readFailure, readQuestion } from "../state/document-reader.js";
import type { Stage } from "../pipeline/stages.js";
import type { PauseState } from "../state/item.js";
import type { NotifyEvent } from "./notifier.js";

/**
 * What the event deriver needs of the document. `PipelineDoc` is one: its node reads and node
 * events see only valid (signed) entries, so a planted `paused` never notifies anyone.
 */
export interface NotifySource {
  /** The raw `items` map (an item's `blocked` is observed there). */
  items: Y.Map<unknown>;
  onStageChange(cb: (ev: { id: string; from: Stage | undefined; to: Stage | undefined }) => void): () => void;
  /** Ids of node entries that changed. */
  onNodesChange(cb: (ids: string[]) => void): () => void;
  getNode(id: string): { paused?: PauseState | null } | undefined;
  listNodes(): Array<{ id: string; paused?: PauseState | null }>;
}

export interface WatchOptions {
  now?: () => number;
  /** Errors inside document observers are reported here, never thrown. */
  onError?: (err: unknown) => void;
}

/**
 * Derive notification events from document changes, whichever replica made them:
 * - `blocked`: an item's `blocked` goes from empty to a reason;
 * - `done`: an item's stage changes to `done`;
 * - `merge_failed`: an item leaves `merge` back to `current` (the reason is its `failure`);
 * - `paused`: a node entry's `paused` becomes non-null;
 * - `question`: a coder asks a person (`ask_human`): an item gets a new unanswered `question`.
 * State at the time of the call is the baseline: nothing already blocked or paused is reported.
 * Run it on one node (the rendezvous), or every node would notify. Returns a stop function.
 */
export function watchNotifyEvents(src: NotifySource, emit: (ev: NotifyEvent) => void, opts: WatchOptions = {}): () => void {
  const now = opts.now ?? Date.now;
  const field = (id: string, key: string) => {
    const m = src.items.get(id);
    const v = m instanceof Y.Map ? m.get(key) : undefined;
    return typeof v === "string" && v.trim() ? v : undefined;
  };
  const failureText = (id: string) => {
    const m = src.items.get(id);
    return m instanceof Y.Map ? readFailure(m.get("failure"))?.message : undefined;
  };
  const safe =
    <A extends unknown[]>(fn: (...a: A) => void) =>
    (...a: A) => {
      try {
        fn(...a);
      } catch (err) {
        opts.onError?.(err);
      }
    };

  const wasBlocked = new Set<string>();
  /** The time of the question each item was last seen asking, so one question notifies once. */
  const asked = new Map<string, number>();
  const question = (id: string) => {
    const m = src.items.get(id);
    return m instanceof Y.Map ? readQuestion(m.get("question")) : undefined;
  };
  src.items.forEach((_m, id) => {
    if (field(id, "blocked")) wasBlocked.add(id);
    const q = question(id);
    if (q) asked.set(id, q.askedAt);
  });
  const wasPaused = new Set(
    src
      .listNodes()
      .filter((n) => n.paused)
      .map((n) => n.id),
  );

  const stopStages = src.onStageChange(
    safe(({ id, from, to }) => {
      if (to === "done" && from !== "done") emit({ event: "done", story: id, at: now() });
      if (from === "merge" && to === "current")
        emit({ event: "merge_failed", story: id, reason: failureText(id)?.split("\n")[0]!.slice(0, 500), at: now() });
    }),
  );
  const stopNodes = src.onNodesChange(
    safe((ids) => {
      for (const id of ids) {
        const p = src.getNode(id)?.paused;
        if (p && !wasPaused.has(id)) emit({ event: "paused", node: id, reason: p.reason, at: now() });
        if (p) wasPaused.add(id);
        else wasPaused.delete(id);
      }
    }),
  );
  const onItems = safe((events: Array<Y.YEvent<any>>) => {
    for (const id of touched(events, src.items, "blocked")) {
      const reason = field(id, "blocked");
      const m = src.items.get(id);
      const kind = m instanceof Y.Map ? readFailure(m.get("failure"))?.kind : undefined;
      if (reason && !wasBlocked.has(id)) emit({ event: "blocked", story: id, reason, ...(kind ? { kind } : {}), at: now() });
      if (reason) wasBlocked.add(id);
      else wasBlocked.delete(id);
    }
    for (const id of touched(events, src.items, "question")) {
      const q = question(id);
      if (q && q.answer === undefined && asked.get(id) !== q.askedAt)
        emit({ event: "question", story: id, reason: q.text.split("\n")[0]!.slice(0, 500), at: now() });
      if (q) asked.set(id, q.askedAt);
      else asked.delete(id);
    }
  });
  src.items.observeDeep(onItems);
  return () => {
    stopStages();
    stopNodes();
    src.items.unobserveDeep(onItems);
  };
}

/** Items added or replaced, or whose `key` changed. */
function touched(events: Array<Y.YEvent<any>>, items: Y.Map<unknown>, key: string): Set<string> {
  const ids = new Set<string>();
  for (const ev of events) {
    if (ev.target === items) for (const k of (ev as Y.YMapEvent<unknown>).keysChanged) ids.add(k);
    // `path` is relative to the observed map: [id] for a change inside one item.
    else if (ev.target.parent === items && (ev as Y.YMapEvent<unknown>).keysChanged?.has(key) && typeof ev.path[0] === "string")
      ids.add(ev.path[0]);
  }
  return ids;
}
