import { useEffect, useState } from "react";
import { api } from "./use-pipeline";
import { STAGES, type Item } from "./types";

const CRITERION = /^\s*[-*] \[( |x|X)\] (.*)$/;

/** One story: its markdown (criteria as ticks), a live tail of its agent log, and controls. */
export function StoryView({ item, labels, onClose }: { item: Item; labels: Map<string, string>; onClose: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const act = (method: string, path: string, body?: unknown) => api(method, path, body).then(() => setError(null), (e: Error) => setError(e.message));
  let criterion = -1;
  return (
    <div className="overlay" role="dialog" aria-label={item.name} onClick={onClose}>
      <article className="story" onClick={(e) => e.stopPropagation()}>
        <button className="close" onClick={onClose} aria-label="close">×</button>
        <h2>{item.name}</h2>
        <p className="sub">{item.id} · {item.stage}{item.claim ? ` · claimed by ${labels.get(item.claim.node) ?? item.claim.node.slice(0, 8)} (epoch ${item.claim.epoch})` : ""}{item.mergeCommit ? ` · merged ${item.mergeCommit.slice(0, 8)}` : ""}</p>
        {item.blocked && <p className="reason">blocked: {item.blocked}</p>}
        <div className="markdown">
          {item.body.split("\n").map((line, n) => {
            const m = CRITERION.exec(line);
            if (m) {
              const index = ++criterion;
              return (
                <label key={n} className="criterion">
                  <input type="checkbox" checked={m[1] !== " "} onChange={(e) => act("POST", `/api/stories/${item.id}/tick`, { index, done: e.target.checked })} /> {m[2]}
                </label>
              );
            }
            if (line.startsWith("#")) return <h3 key={n}>{line.replace(/^#+\s*/, "")}</h3>;
            return line.trim() ? <p key={n}>{line}</p> : null;
          })}
        </div>
        <div className="controls">
          <label>move to <select value={item.stage} onChange={(e) => act("POST", `/api/stories/${item.id}/move`, { stage: e.target.value })}>
            {STAGES.map((s) => <option key={s}>{s}</option>)}
          </select></label>
          {item.blocked
            ? <button onClick={() => act("POST", `/api/stories/${item.id}/unblock`)}>unblock</button>
            : <button onClick={() => act("POST", `/api/stories/${item.id}/block`, { reason: "blocked from the board" })}>block</button>}
          {item.claim && <button onClick={() => act("POST", `/api/stories/${item.id}/release`)}>release claim</button>}
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        <LogTail id={item.id} />
      </article>
    </div>
  );
}

function LogTail({ id }: { id: string }) {
  const [lines, setLines] = useState<string[]>([]);
  useEffect(() => {
    setLines([]);
    const source = new EventSource(`/api/stories/${id}/log?follow`);
    source.onmessage = (e) => setLines((prev) => [...prev.slice(-199), summarize(e.data as string)]);
    return () => source.close();
  }, [id]);
  return (
    <section className="log" aria-label="agent log">
      <h3>agent log</h3>
      <pre>{lines.length ? lines.join("\n") : "no output yet"}</pre>
    </section>
  );
}

function summarize(line: string): string {
  try {
    const e = JSON.parse(line) as { kind: string; text?: string; event?: { type?: string; subtype?: string } };
    return e.kind === "event" ? `[${e.event?.type}${e.event?.subtype ? `/${e.event.subtype}` : ""}]` : `${e.kind === "info" ? "•" : ">"} ${e.text ?? ""}`;
  } catch {
    return line;
  }
}
