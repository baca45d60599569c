import type { BoardSnapshot } from "../../../src/server/board-snapshot";
import type { BoardStore } from "./board-store";
import type { FromWorker, ToWorker } from "./protocol";

declare global {
  interface Window {
    /** Started by index.html's inline script, before the board's code has loaded. */
    __huskiesBoard?: Promise<BoardSnapshot | null>;
  }
}

function fetchSnapshot(token: string | undefined): Promise<BoardSnapshot | null> {
  return fetch("/api/board", { headers: token ? { authorization: `Bearer ${token}` } : {} })
    .then((r) => (r.ok ? (r.json() as Promise<BoardSnapshot>) : null))
    .catch(() => null);
}

let snapshot: Promise<void> | undefined;
/** The first-paint snapshot into the store, once (index.html has already asked for it). */
export function loadSnapshot(store: BoardStore, token: string | undefined): Promise<void> {
  snapshot ??= (window.__huskiesBoard ?? fetchSnapshot(token))
    .then((s) => {
      if (s && typeof s.stages === "object" && s.stages) store.applySnapshot(s);
    })
    .catch(() => undefined);
  return snapshot;
}

/** After the browser has painted what it has: the first view should not wait on the worker's start. */
const afterPaint = (fn: () => void) => requestAnimationFrame(() => setTimeout(fn, 0));

/**
 * Fill the store: the server's first-paint snapshot (already on its way, see index.html), then
 * the live document from the sync worker, which starts once the snapshot is painted so its
 * decoding does not compete with the first paint for the machine.
 */
export function connectBoard(store: BoardStore, token: string | undefined): () => void {
  let worker: Worker | undefined;
  let stopped = false;
  const start = () => {
    if (worker || stopped) return;
    worker = new Worker(new URL("./sync-worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<FromWorker>) => store.apply(e.data);
    const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
    worker.postMessage({ t: "start", wsBase, token } satisfies ToWorker);
    markPainted();
  };
  void loadSnapshot(store, token).then(() => afterPaint(start));
  return () => {
    stopped = true;
    worker?.terminate();
  };
}

let markPainted: () => void = () => undefined;
/**
 * Resolves once the first view is painted and the worker started: what can wait (the story
 * view's code) loads then, not while the columns are being drawn.
 */
export const firstPainted = new Promise<void>((resolve) => (markPainted = resolve));
