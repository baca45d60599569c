import { useEffect, useState } from "react";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import type { Item, NodeEntry } from "./types";

export type Connection = "connecting" | "connected" | "disconnected";

/** The admin token, if the board was opened with `?token=…` (kept for the session). */
export function adminToken(): string | undefined {
  const fromUrl = new URLSearchParams(location.search).get("token");
  if (fromUrl) sessionStorage.setItem("huskies-token", fromUrl);
  return sessionStorage.getItem("huskies-token") ?? undefined;
}

/**
 * The board is a live Yjs replica of the project's document over `/crdt-sync`: no polling.
 * Every change re-reads the items and nodes maps.
 */
export function usePipeline(): { items: Item[]; nodes: NodeEntry[]; connection: Connection } {
  const [state, setState] = useState<{ items: Item[]; nodes: NodeEntry[] }>({ items: [], nodes: [] });
  const [connection, setConnection] = useState<Connection>("connecting");

  useEffect(() => {
    const doc = new Y.Doc();
    const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
    const token = adminToken();
    const provider = new WebsocketProvider(wsBase, "crdt-sync", doc, { params: token ? { token } : {}, maxBackoffTime: 5000 });
    // huskies' own handshake frame (type 100) is for nodes that sign; a browser has nothing to say to it.
    provider.messageHandlers[100] = () => undefined;
    const read = () => {
      const items = Object.values(doc.getMap("items").toJSON() as Record<string, Item>).filter((i) => i && i.id && i.stage);
      items.sort((a, b) => parseInt(a.id, 10) - parseInt(b.id, 10));
      const nodes = Object.entries(doc.getMap("nodes").toJSON() as Record<string, Omit<NodeEntry, "id">>).map(([id, n]) => ({
        ...n,
        id,
        alive: n.alive !== false,
      }));
      setState({ items, nodes });
    };
    doc.on("update", read);
    provider.on("status", (e: { status: string }) =>
      setConnection(e.status === "connected" ? "connected" : e.status === "connecting" ? "connecting" : "disconnected"),
    );
    provider.on("connection-close", () => setConnection("disconnected"));
    return () => {
      provider.destroy();
      doc.destroy();
    };
  }, []);

  return { ...state, connection };
}

/**
 * REST calls (writes go through it, so they are validated and the transition rules apply). Every
 * write is JSON, `{}` when empty: the server refuses other content types (no cross-site forms).
 */
export async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const token = adminToken();
  const write = method !== "GET" && method !== "HEAD";
  const res = await fetch(path, {
    method,
    headers: { ...(write ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: write ? JSON.stringify(body ?? {}) : undefined,
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(
      (() => {
        try {
          return JSON.parse(text).error as string;
        } catch {
          return text;
        }
      })(),
    );
  return text ? JSON.parse(text) : undefined;
}
