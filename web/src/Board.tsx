import { STAGES, type Item } from "./types";

export function Board({ items, labels, onSelect }: { items: Item[]; labels: Map<string, string>; onSelect: (id: string) => void }) {
  return (
    <main className="board">
      {STAGES.map((stage) => {
        const inStage = items.filter((i) => i.stage === stage);
        return (
          <section key={stage} className="column" data-stage={stage} aria-label={stage}>
            <h2>{stage} <span className="count">{inStage.length}</span></h2>
            {inStage.map((i) => <Card key={i.id} item={i} holder={i.claim ? labels.get(i.claim.node) ?? i.claim.node.slice(0, 8) : undefined} onSelect={onSelect} />)}
          </section>
        );
      })}
    </main>
  );
}

function Card({ item, holder, onSelect }: { item: Item; holder?: string; onSelect: (id: string) => void }) {
  const run = item.lastRun;
  return (
    <button className={`card${item.blocked ? " blocked" : ""}`} data-id={item.id} onClick={() => onSelect(item.id)}>
      <span className={`type type-${item.type}`}>{item.type}</span>
      <span className="name">{item.name}</span>
      <span className="meta">
        <span className="id">{item.id.split("_")[0]}</span>
        {holder && <span className="holder" title="claimed by">⚙ {holder}</span>}
        {item.retries > 0 && <span className="retries">↻ {item.retries}</span>}
        {run && <span className="run">{run.turns !== undefined ? `${run.turns} turns` : `${Math.round(run.durationMs / 1000)}s`}{run.costUsd !== undefined ? ` · $${run.costUsd.toFixed(3)}` : ""}</span>}
      </span>
      {item.blocked && <span className="reason">blocked: {item.blocked}</span>}
    </button>
  );
}
