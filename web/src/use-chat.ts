import { useEffect, useState } from "react";
import type { ChatEvent, ChatMessage } from "../../src/chat/chat-message";
import { adminToken } from "./use-pipeline";

export type ChatConnection = "connecting" | "live" | "closed";

/** Most log lines kept per assistant message in the page (the server keeps as many). */
const MAX_LINES = 400;

/**
 * The project's chat, followed live through `GET /api/chat/events` (SSE): a snapshot on every
 * (re)connection, then added and changed messages and the running assistant's log lines.
 */
export function useChat(): { messages: ChatMessage[]; running: boolean; connection: ChatConnection } {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [running, setRunning] = useState(false);
  const [connection, setConnection] = useState<ChatConnection>("connecting");
  useEffect(() => {
    // EventSource cannot send headers: a server that wants the admin token for reads takes it as `?token=`.
    const token = adminToken();
    const source = new EventSource(`/api/chat/events${token ? `?token=${encodeURIComponent(token)}` : ""}`);
    source.onopen = () => setConnection("live");
    source.onerror = () => setConnection(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    source.onmessage = (e) => {
      let ev: ChatEvent;
      try {
        ev = JSON.parse(String(e.data)) as ChatEvent;
      } catch {
        return;
      }
      switch (ev.type) {
        case "snapshot":
          setMessages(ev.messages);
          setRunning(ev.running);
          return;
        case "running":
          return setRunning(ev.running);
        case "message": {
          const m = ev.message;
          return setMessages((prev) => {
            const at = prev.findIndex((x) => x.id === m.id);
            if (at < 0) return [...prev, m];
            const next = [...prev];
            // A finished message carries its lines; a pending one keeps what streamed in.
            next[at] = { ...m, lines: m.lines?.length ? m.lines : prev[at]!.lines };
            return next;
          });
        }
        case "line": {
          const { id, line } = ev;
          return setMessages((prev) => prev.map((m) => (m.id === id ? { ...m, lines: [...(m.lines ?? []), line].slice(-MAX_LINES) } : m)));
        }
      }
    };
    return () => source.close();
  }, []);
  return { messages, running, connection };
}
