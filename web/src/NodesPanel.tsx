import { useState, type FormEvent } from "react";
import { isLive, isPaused, timeLeft, type StuckConfig } from "../../src/pipeline/stuck-hint";
import type { Item } from "./types";
import type { BoardNode } from "./board-data/protocol";
import { nodesBehind } from "../../src/pipeline/release-order";
import { api } from "./use-pipeline";
import { shortAge, useNow } from "./use-now";
import { AccountsPanel } from "./AccountsPanel";

const SLOT_LABEL = { coder: "coder", qa: "qa", mergemaster: "merge" } as const;

/** Every node: slots, what it works on, heartbeat, pause state, and pause/resume through REST. */
export function NodesPanel({ nodes, items, cfg }: { nodes: BoardNode[]; items: Item[]; cfg: StuckConfig }) {
  const now = useNow(1000);
  const behind = nodesBehind(nodes);
  return (
    <aside className="nodes" aria-label="nodes">
      <h2>
        nodes <span className="count">{nodes.length}</span>
      </h2>
      <ul>
        {nodes.map((n) => (
          <NodeRow
            key={n.id}
            node={n}
            now={now}
            cfg={cfg}
            running={items.filter((i) => i.claim?.node === n.id)}
            behind={behind.get(n.id)}
          />
        ))}
      </ul>
      <AccountsPanel />
    </aside>
  );
}

function NodeRow({
  node: n,
  now,
  cfg,
  running,
  behind,
}: {
  node: BoardNode;
  now: number;
  cfg: StuckConfig;
  running: Item[];
  /** This node runs an older release than the newest in the fleet. */
  behind?: { version: string; newest: string };
}) {
  const [pausing, setPausing] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const live = isLive(n, now, cfg.nodeAliveMs);
  const paused = isPaused(n, now) ? n.paused! : undefined;
  const slots = Object.entries(n.capacity ?? {}).filter(([, v]) => (v ?? 0) > 0);
  const call = (path: string, body?: unknown) =>
    api("POST", `/api/nodes/${encodeURIComponent(n.id)}/${path}`, body).then(
      () => setError(null),
      (e: Error) => setError(e.message),
    );
  const pause = async (e: FormEvent) => {
    e.preventDefault();
    await call("pause", { reason: reason.trim() || "paused from the board" });
    setPausing(false);
    setReason("");
  };
  const state = !live ? "offline" : paused ? "paused" : "alive";
  return (
    <li className={`node node-${state}`} data-node={n.id} aria-label={`node ${n.label}`}>
      <div className="node-head">
        <span className="dot" aria-hidden>
          ●
        </span>
        <strong>{n.label}</strong> <span className="role">{n.role}</span>
        <span className={`state state-${state}`}>{state}</span>
        {behind && (
          <span className="behind" role="note" title={`runs ${behind.version}; the newest in the fleet is ${behind.newest}`}>
            behind: {behind.version} &lt; {behind.newest}
          </span>
        )}
      </div>
      {n.version && <span className="version">huskies {n.version}</span>}
      <span className="age">heartbeat {shortAge(now - n.lastSeen)} ago</span>
      <span className="slots">
        {slots.length
          ? `slots: ${slots.map(([r, v]) => `${SLOT_LABEL[r as keyof typeof SLOT_LABEL] ?? r} ${v}`).join(" · ")}`
          : "no agent slots"}
      </span>
      {running.length > 0 && (
        <span className="running">
          working on{" "}
          {running.map((i) => (
            <span key={i.id} className="running-id" title={i.name}>
              {i.id.split("_")[0]} {i.name}
            </span>
          ))}
        </span>
      )}
      {paused && (
        <span className="paused" role="status">
          paused: {paused.reason} · {paused.until === null ? "until resumed" : `resumes ${timeLeft(paused.until, now)}`}
        </span>
      )}
      <span className="addr">{n.address}</span>
      <div className="node-actions">
        {paused ? (
          <button type="button" onClick={() => void call("resume")} aria-label={`resume ${n.label}`}>
            resume
          </button>
        ) : (
          !pausing && (
            <button type="button" onClick={() => setPausing(true)} aria-label={`pause ${n.label}`} disabled={!live}>
              pause…
            </button>
          )
        )}
        {pausing && !paused && (
          <form className="pause-form" onSubmit={pause} aria-label={`pause ${n.label}`}>
            <label>
              reason{" "}
              <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder="why (optional)" autoFocus />
            </label>
            <button type="submit">pause node</button>
            <button type="button" onClick={() => setPausing(false)}>
              cancel
            </button>
          </form>
        )}
      </div>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </li>
  );
}
