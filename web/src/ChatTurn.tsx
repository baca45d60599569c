import { useMemo, useState } from "react";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { parseLogLine, TimelineBuilder, type TimelineEntry } from "../../src/runtime/log-timeline";
import type { ChatMessage } from "../../src/chat/chat-message";
import { api } from "./use-pipeline";

const MCP_PREFIX = "mcp__huskies__";

/** An assistant's answer as it streams: what it says and each tool it calls (the story log's timeline). */
export function AssistantTurn({ m }: { m: ChatMessage }) {
  const entries = useMemo(() => {
    const b = new TimelineBuilder();
    return (m.lines ?? []).flatMap((l) => {
      const line = parseLogLine(l);
      return line ? b.push(line) : [];
    });
  }, [m.lines]);
  const shown = entries.filter(
    (e) => e.kind === "text" || e.kind === "tool" || (e.kind === "tool_result" && e.error) || e.kind === "error",
  );
  const said = shown.some((e) => e.kind === "text");
  return (
    <div className="chat-assistant" data-status={m.status}>
      {shown.map((e, i) => (
        <TurnEntry key={i} e={e} />
      ))}
      {m.status === "running" && <p className="muted chat-thinking">working…</p>}
      {m.status !== "running" && !said && m.text && <Markdown remarkPlugins={[remarkGfm]}>{m.text}</Markdown>}
    </div>
  );
}

function TurnEntry({ e }: { e: TimelineEntry }) {
  switch (e.kind) {
    case "text":
      return (
        <div className="chat-says">
          <Markdown remarkPlugins={[remarkGfm]}>{e.text}</Markdown>
        </div>
      );
    case "tool":
      return (
        <div className="chat-tool" data-tool={e.name}>
          <span className="tool-name">{e.name.startsWith(MCP_PREFIX) ? e.name.slice(MCP_PREFIX.length) : e.name}</span>{" "}
          <code>{e.input}</code>
        </div>
      );
    case "tool_result":
    case "error":
      return <div className="chat-tool-error">✗ {e.text}</div>;
    default:
      return null;
  }
}

/** A destructive call of the assistant, waiting for a person's click (or how it was decided). */
export function ConfirmCard({ m }: { m: ChatMessage }) {
  const [error, setError] = useState<string | null>(null);
  const decide = (allow: boolean) =>
    api("POST", "/api/chat/confirm", { id: m.id, allow }).then(
      () => setError(null),
      (e: Error) => setError(e.message),
    );
  return (
    <div className="confirm-card" data-status={m.status} role="group" aria-label="confirmation">
      <p>
        The assistant wants to <strong>{m.text}</strong>
      </p>
      <code className="chat-args">
        {m.tool}
        {m.args ? ` ${JSON.stringify(m.args)}` : ""}
      </code>
      {m.status === "pending" ? (
        <div className="confirm-buttons">
          <button className="danger" onClick={() => void decide(true)}>
            confirm
          </button>
          <button onClick={() => void decide(false)}>decline</button>
        </div>
      ) : (
        <p className="muted">{m.status === "allowed" ? "confirmed" : m.status === "declined" ? "declined" : "expired (not confirmed)"}</p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
