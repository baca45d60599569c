import { useState } from "react";
import { api } from "./use-pipeline";
import type { Item } from "./types";
import "./assistant.css";

/**
 * What a coder told the board through its MCP channel: on the card, its latest progress line and,
 * while it waits for a person, its question.
 */
export function CardNotes({ item }: { item: Item }) {
  const q = item.question;
  return (
    <>
      {q && q.answer === undefined && (
        <span className="needs-person" data-testid="card-question" title={q.text}>
          ⚑ needs a person: {q.text.split("\n")[0]}
        </span>
      )}
      {item.progress && item.stage === "current" && (
        <span className="progress" data-testid="card-progress" title={new Date(item.progress.at).toLocaleString()}>
          ▸ {item.progress.text.split("\n")[0]}
        </span>
      )}
    </>
  );
}

/** In the story view: the coder's question and a form to answer it (the answer resumes its session). */
export function QuestionPanel({ item }: { item: Item }) {
  const q = item.question;
  const [answer, setAnswer] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  if (!q) return null;
  const send = () => {
    setSending(true);
    api("POST", `/api/stories/${encodeURIComponent(item.id)}/answer`, { answer }).then(
      () => {
        setAnswer("");
        setError(null);
        setSending(false);
      },
      (e: Error) => {
        setError(e.message);
        setSending(false);
      },
    );
  };
  return (
    <section className="question" aria-label="question from the coder" data-testid="question">
      <h3>{q.answer === undefined ? "⚑ the coder asks" : "the coder asked"}</h3>
      <p className="question-text">{q.text}</p>
      {q.answer !== undefined ? (
        <p className="answer">
          answer: <span data-testid="answer">{q.answer}</span> <span className="muted">(resuming its session)</span>
        </p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (answer.trim()) send();
          }}
        >
          <textarea
            aria-label="your answer"
            value={answer}
            rows={3}
            onChange={(e) => setAnswer(e.target.value)}
            placeholder="Your answer"
          />
          <button type="submit" disabled={sending || !answer.trim()}>
            answer
          </button>
          {error && (
            <span className="error" role="alert">
              {error}
            </span>
          )}
        </form>
      )}
    </section>
  );
}
