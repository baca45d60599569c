import { useCallback, useEffect, useState } from "react";
import { api } from "./use-pipeline";
import { STAGES, type Item } from "./types";
import { StoryMarkdown } from "./StoryMarkdown";
import { LogTimeline } from "./LogTimeline";
import { DiffView } from "./DiffView";
import { ErrorBoundary } from "./ErrorBoundary";
import { QuestionPanel } from "./StoryQuestion";

/** One story: its markdown (criteria as ticks), controls, the branch's diff and the live agent log. */
export function StoryView({
  item,
  labels,
  hint,
  onClose,
}: {
  item: Item;
  labels: Map<string, string>;
  hint?: string;
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const act = (method: string, path: string, body?: unknown): Promise<boolean> =>
    api(method, path, body).then(
      () => {
        setError(null);
        return true;
      },
      (e: Error) => {
        setError(e.message);
        return false;
      },
    );
  const path = `/api/stories/${encodeURIComponent(item.id)}`;
  const run = item.lastRun;
  const tick = useCallback((index: number, done: boolean) => act("POST", `${path}/tick`, { index, done }), [path]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="overlay" onClick={onClose}>
      <article className="story" role="dialog" aria-modal="true" aria-label={item.name} onClick={(e) => e.stopPropagation()}>
        <button className="close" onClick={onClose} aria-label="close">
          ×
        </button>
        <h2>{item.name}</h2>
        <p className="sub">
          {item.id} · {item.stage}
          {item.claim ? ` · claimed by ${labels.get(item.claim.node) ?? item.claim.node.slice(0, 8)} (epoch ${item.claim.epoch})` : ""}
          {item.retries ? ` · ${item.retries} failed attempt${item.retries === 1 ? "" : "s"}` : ""}
          {item.mergeCommit ? ` · merged ${item.mergeCommit.slice(0, 8)}` : ""}
          {run?.costUsd !== undefined ? ` · last run $${run.costUsd.toFixed(3)}` : ""}
        </p>
        {item.blocked && (
          <p className="reason" role="status">
            blocked: {item.blocked}
          </p>
        )}
        {run?.error && <p className="reason">last run failed: {run.error}</p>}
        {hint && (
          <p className="hint" role="status">
            ⚠ {hint}
          </p>
        )}
        <QuestionPanel item={item} />
        <ErrorBoundary what="story text">
          <StoryMarkdown body={item.body} onTick={tick} />
        </ErrorBoundary>
        <div className="controls">
          <label>
            move to{" "}
            <select value={item.stage} onChange={(e) => act("POST", `${path}/move`, { stage: e.target.value })}>
              {STAGES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          {item.blocked ? (
            <button onClick={() => act("POST", `${path}/unblock`)}>unblock</button>
          ) : (
            <button onClick={() => act("POST", `${path}/block`, { reason: "blocked from the board" })}>block</button>
          )}
          {item.claim && <button onClick={() => act("POST", `${path}/release`)}>release claim</button>}
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {(item.stage !== "backlog" || item.branch) && (
          <ErrorBoundary what="diff">
            <DiffView item={item} />
          </ErrorBoundary>
        )}
        <ErrorBoundary what="agent log">
          <LogTimeline id={item.id} logNode={item.logNode} labels={labels} />
        </ErrorBoundary>
      </article>
    </div>
  );
}
