import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from "react";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";
import type { ChatMessage } from "../../src/chat/chat-message";
import { api } from "./use-pipeline";
import { useChat } from "./use-chat";
import { AssistantTurn, ConfirmCard } from "./ChatTurn";
import "./assistant.css";

/**
 * The project's chat: bot commands (`help`, `status`, `show 3`, …) answered at once, anything else
 * the project's assistant, streaming its text and tool calls. A drawer at the side of the board,
 * open or closed as the person left it.
 */
export function ChatPanel() {
  const [open, setOpen] = useState(() => sessionStorage.getItem("huskies-chat") === "open");
  useEffect(() => sessionStorage.setItem("huskies-chat", open ? "open" : "closed"), [open]);
  if (!open)
    return (
      <button className="chat-toggle" onClick={() => setOpen(true)} aria-label="open the chat">
        chat
      </button>
    );
  return <ChatDrawer onClose={() => setOpen(false)} />;
}

function ChatDrawer({ onClose }: { onClose: () => void }) {
  const { messages, running, connection } = useChat();
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const list = useRef<HTMLOListElement>(null);
  const stick = useRef(true);
  const last = messages.at(-1);
  // Follow the newest message while the reader is at the bottom.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, last?.lines?.length, last?.status]);

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t) return;
    setSending(true);
    try {
      await api("POST", "/api/chat", { text: t });
      setText("");
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSending(false);
    }
  };

  return (
    <aside className="chat" aria-label="chat">
      <header>
        <h2>chat</h2>
        <span className={`follow follow-${connection}`} data-testid="chat-connection">
          {connection === "live" ? "● live" : connection === "connecting" ? "connecting…" : "closed"}
        </span>
        {running && (
          <button className="chat-stop" onClick={() => void api("POST", "/api/chat/stop").catch(() => undefined)}>
            stop
          </button>
        )}
        <button className="close" onClick={onClose} aria-label="close the chat">
          ×
        </button>
      </header>
      <ol
        className="chat-messages"
        ref={list}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {messages.length === 0 && (
          <li className="muted">Type `help` for the commands, or ask the assistant anything about this project.</li>
        )}
        {messages.map((m) => (
          <li key={m.id} className={`chat-message chat-${m.role}`} data-role={m.role} data-id={m.id}>
            <Message m={m} />
          </li>
        ))}
      </ol>
      <form className="chat-input" onSubmit={(e) => void send(e)}>
        <textarea
          aria-label="message"
          rows={2}
          value={text}
          placeholder="help, status, show 3 — or ask the assistant"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" disabled={sending || !text.trim()}>
          send
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </aside>
  );
}

function Message({ m }: { m: ChatMessage }) {
  switch (m.role) {
    case "user":
      return <p className="chat-user-text">{m.text}</p>;
    case "bot":
      return (
        <div className="chat-bot-text">
          <Markdown remarkPlugins={[remarkGfm]}>{m.text}</Markdown>
        </div>
      );
    case "assistant":
      return <AssistantTurn m={m} />;
    case "confirm":
      return <ConfirmCard m={m} />;
  }
}
