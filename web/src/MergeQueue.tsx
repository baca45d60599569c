import { useMemo } from "react";
import { queueView } from "../../src/pipeline/merge-queue";
import { boardStore } from "./board-data/board-store";
import "./merge-queue.css";

/**
 * The merge queue (issue 29.3): stories in the order they merge, each with its step (rebasing,
 * gates, pushing, conflict round n, or why it waits), computed by the same rule the rendezvous
 * grants by. Reads the `merge` column and the stories back with their coder on a conflict round.
 */
export function MergeQueue({
  version,
  labels,
  onSelect,
}: {
  version: number;
  labels: Map<string, string>;
  onSelect: (id: string) => void;
}) {
  const entries = useMemo(
    () => queueView([...boardStore.column("merge"), ...boardStore.column("current").filter((i) => i.conflict)]),
    [version],
  );
  return (
    <section className="merge-queue" aria-label="merge queue">
      <h2>
        merge queue <span className="count">{entries.length}</span>
      </h2>
      {entries.length === 0 ? (
        <p className="muted">nothing waiting to merge</p>
      ) : (
        <ol>
          {entries.map((e) => (
            <li key={e.id} data-id={e.id} className={e.step.startsWith("conflict round") ? "on-round" : e.holder ? "merging" : "waiting"}>
              <span className="position">{e.position}</span>
              <button className="story" onClick={() => onSelect(e.id)} title={e.id}>
                {boardStore.get(e.id)?.name ?? e.id}
              </button>
              <span className="step" data-testid="queue-step">
                {e.step}
              </span>
              {e.holder && <span className="holder">⚙ {labels.get(e.holder) ?? e.holder.slice(0, 8)}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
