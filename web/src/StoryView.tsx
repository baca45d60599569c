import { useCallback, useEffect, useState } from "react";
import type { StuckConfig } from "../../src/pipeline/stuck-hint";
import { api } from "./use-pipeline";
import { STAGES, type Item } from "./types";
import type { BoardItem } from "./board-data/protocol";
import { useReviewDraft } from "./review/use-review-draft";
import { HumanQaBar } from "./review/HumanQaBar";
import { SentReview } from "./review/SentReview";
import { StoryMarkdown } from "./StoryMarkdown";
import { LogTimeline } from "./LogTimeline";
import { DiffView } from "./DiffView";
import { ErrorBoundary } from "./ErrorBoundary";
import { QuestionPanel } from "./StoryQuestion";

/** One story: its markdown (criteria as ticks), controls, the branch's diff and the live agent log. */
export function StoryView({
  item: held,
  labels,
  cfg,
  hint,
  onClose,
}: {
  item: BoardItem;
  labels: Map<string, string>;
  cfg: StuckConfig;
  hint?: string;
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const item = useWholeItem(held);
  const draft = useReviewDraft(item.id);
  const full = useAfterFirstPaint();
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
        <h2 {...{ elementtiming: "story-open" }}>{item.name}</h2>
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
        {item.review && item.stage === "current" && <SentReview review={item.review} />}
        {item.stage === "qa" && (item.qa ?? cfg.defaultQa) === "human" && <HumanQaBar item={item} draft={draft} />}
        <ErrorBoundary what="story text">
          {held.partial && item === held ? (
            <p className="muted">loading the story…</p>
          ) : full ? (
            <StoryMarkdown body={item.body} onTick={tick} />
          ) : (
            <p className="muted">…</p>
          )}
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
        {full && (item.stage !== "backlog" || item.branch) && (
          <ErrorBoundary what="diff">
            <DiffView item={item} draft={draft} />
          </ErrorBoundary>
        )}
        {full && (
          <ErrorBoundary what="agent log">
            <LogTimeline id={item.id} logNode={item.logNode} labels={labels} />
          </ErrorBoundary>
        )}
      </article>
    </div>
  );
}

/**
 * The item with its body. The board holds every body once its live document is loaded; a story
 * opened before that (from the first-paint snapshot) is read over REST meanwhile.
 */
function useWholeItem(held: BoardItem): Item {
  const [fetched, setFetched] = useState<Item | null>(null);
  useEffect(() => {
    if (!held.partial) return;
    let live = true;
    api("GET", `/api/stories/${encodeURIComponent(held.id)}`).then(
      (i) => live && setFetched(i as Item),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [held.id, held.partial]);
  return held.partial && fetched?.id === held.id ? { ...fetched, ...held, body: fetched.body } : held;
}

/**
 * False for the dialog's first frame, true after it is painted: the name, state and controls show
 * at once, and the heavier parts (markdown, the diff, the log) render in the frame after.
 */
function useAfterFirstPaint(): boolean {
  const [after, setAfter] = useState(false);
  useEffect(() => {
    let t: ReturnType<typeof setTimeout> | undefined;
    const frame = requestAnimationFrame(() => (t = setTimeout(() => setAfter(true), 0)));
    return () => {
      cancelAnimationFrame(frame);
      clearTimeout(t);
    };
  }, []);
  return after;
}
