import { memo } from "react";
import { whyStuck, type StuckConfig } from "../../src/pipeline/stuck-hint";
import { STAGES, type Item, type NodeEntry } from "./types";
import { shortAge, useNow } from "./use-now";
import { CardNotes } from "./StoryQuestion";

/** Card ages are minutes-grained: re-render the board twice a minute, not every second. */
const CARD_TICK_MS = 30_000;

export function Board({
  items,
  nodes,
  labels,
  cfg,
  onSelect,
}: {
  items: Item[];
  nodes: NodeEntry[];
  labels: Map<string, string>;
  cfg: StuckConfig;
  onSelect: (id: string) => void;
}) {
  const now = useNow(CARD_TICK_MS);
  return (
    <main className="board">
      {STAGES.map((stage) => {
        const inStage = items.filter((i) => i.stage === stage);
        return (
          <section key={stage} className="column" data-stage={stage} aria-label={stage}>
            <h2>
              {stage} <span className="count">{inStage.length}</span>
            </h2>
            {inStage.map((i) => (
              <Card
                key={i.id}
                item={i}
                now={now}
                onSelect={onSelect}
                holder={i.claim ? (labels.get(i.claim.node) ?? i.claim.node.slice(0, 8)) : undefined}
                hint={whyStuck(i, nodes, now, cfg)}
              />
            ))}
          </section>
        );
      })}
    </main>
  );
}

const Card = memo(function Card({
  item,
  holder,
  hint,
  now,
  onSelect,
}: {
  item: Item;
  holder?: string;
  hint?: string;
  now: number;
  onSelect: (id: string) => void;
}) {
  const run = item.lastRun;
  const since = item.stageAt || item.createdAt;
  return (
    <button className={`card${item.blocked ? " blocked" : ""}${hint ? " stuck" : ""}`} data-id={item.id} onClick={() => onSelect(item.id)}>
      <span className={`type type-${item.type}`}>{item.type}</span>
      <span className="name">{item.name}</span>
      <span className="meta">
        <span className="id">{item.id.split("_")[0]}</span>
        {holder && (
          <span className="holder" title="claimed by">
            ⚙ {holder}
          </span>
        )}
        {since > 0 && (
          <span className="age" title={`in ${item.stage} since ${new Date(since).toLocaleString()}`}>
            {shortAge(now - since)} in {item.stage}
          </span>
        )}
        {item.retries > 0 && (
          <span className="retries" title="failed attempts">
            ↻ {item.retries}
          </span>
        )}
        {run && (
          <span className="run" title="last run">
            {run.turns !== undefined ? `${run.turns} turns` : `${Math.round(run.durationMs / 1000)}s`}
            {run.costUsd !== undefined ? ` · $${run.costUsd.toFixed(3)}` : ""}
          </span>
        )}
      </span>
      {item.blocked && <span className="reason">blocked: {item.blocked}</span>}
      <CardNotes item={item} />
      {run?.error && !item.blocked && (
        <span className="run-error" title={run.error}>
          last run: {run.error.split("\n")[0]}
        </span>
      )}
      {hint && (
        <span className="hint" data-testid="stuck-hint">
          ⚠ {hint}
        </span>
      )}
    </button>
  );
});
