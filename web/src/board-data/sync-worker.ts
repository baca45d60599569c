/// <reference lib="webworker" />
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { nodeFields, readItem, readNode } from "../../../src/state/document-reader";
import { isOpenQuestion } from "../../../src/pipeline/board-query";
import type { BoardItem, BoardNode, FromWorker, ToWorker } from "./protocol";

/**
 * The board's Yjs replica, in a worker. A project of 10 000 stories is a document of megabytes;
 * decoding it takes the browser a second or more, and done on the page's thread it froze the
 * board for that long. Here it costs the page nothing: the worker syncs `/crdt-sync` like any Yjs
 * client, reads each changed item through the server's own document reader (the same validation
 * every node applies), and posts the page only what changed.
 */

/** Items per message of a full view: small enough that no message stalls the page. */
const CHUNK = 1500;

const post = (m: FromWorker) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);

function start({ wsBase, token }: { wsBase: string; token?: string }) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(wsBase, "crdt-sync", doc, {
    params: token ? { token } : {},
    maxBackoffTime: 5000,
    // Every tab keeps its own link; nothing to share between tabs.
    disableBc: true,
  });
  // huskies' own handshake frame (type 100) is for nodes that sign; a browser has nothing to say to it.
  provider.messageHandlers[100] = () => undefined;
  const items = doc.getMap("items");
  const nodes = doc.getMap("nodes");
  let malformed = 0;
  const onMalformed = () => void malformed++;

  const read = (id: string): BoardItem | undefined => {
    const raw = items.get(id);
    const item = raw === undefined ? undefined : readItem(id, raw, onMalformed);
    if (!item) return undefined;
    const question = raw instanceof Y.Map && isOpenQuestion(raw.get("question"));
    return question ? { ...item, hasQuestion: true } : item;
  };

  const readNodes = (): BoardNode[] => {
    const out: BoardNode[] = [];
    nodes.forEach((value, id) => {
      const node = readNode(id, nodeFields(value), onMalformed);
      if (node) out.push(node);
    });
    return out;
  };

  let synced = false;
  const sendFull = () => {
    const all: BoardItem[] = [];
    items.forEach((_v, id) => {
      const item = read(id);
      if (item) all.push(item);
    });
    post({ t: "items", phase: "begin", upserts: all.slice(0, CHUNK), deletes: [] });
    for (let i = CHUNK; i < all.length; i += CHUNK) post({ t: "items", phase: "chunk", upserts: all.slice(i, i + CHUNK), deletes: [] });
    post({ t: "items", phase: "end", upserts: [], deletes: [] });
    post({ t: "nodes", nodes: readNodes() });
  };

  items.observeDeep((events) => {
    if (!synced) return;
    const touched = new Set<string>();
    for (const ev of events) {
      if (ev.target === items) for (const k of (ev as Y.YMapEvent<unknown>).keysChanged) touched.add(k);
      else if (typeof ev.path[0] === "string") touched.add(ev.path[0]);
    }
    const upserts: BoardItem[] = [];
    const deletes: string[] = [];
    for (const id of touched) {
      const item = read(id);
      if (item) upserts.push(item);
      else deletes.push(id);
    }
    if (upserts.length || deletes.length) post({ t: "items", phase: "delta", upserts, deletes });
  });
  nodes.observeDeep(() => {
    if (synced) post({ t: "nodes", nodes: readNodes() });
  });
  provider.on("sync", (isSynced: boolean) => {
    if (!isSynced || synced) return;
    synced = true;
    sendFull();
    if (malformed) post({ t: "malformed", count: malformed });
  });
  provider.on("status", (e: { status: string }) =>
    post({ t: "connection", state: e.status === "connected" ? "connected" : e.status === "connecting" ? "connecting" : "disconnected" }),
  );
  provider.on("connection-close", () => post({ t: "connection", state: "disconnected" }));
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  if (e.data?.t === "start") start(e.data);
};
