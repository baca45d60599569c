import { useEffect, useState } from "react";
import type { Item, NodeEntry } from "./types";

const ALIVE_MS = 60_000;

export function NodesPanel({ nodes, items }: { nodes: NodeEntry[]; items: Item[] }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <aside className="nodes" aria-label="nodes">
      <h2>nodes <span className="count">{nodes.length}</span></h2>
      <ul>
        {nodes.map((n) => {
          const alive = n.alive && now - n.lastSeen < ALIVE_MS;
          const running = items.filter((i) => i.claim?.node === n.id).map((i) => i.id);
          return (
            <li key={n.id} className={alive ? "alive" : "dead"} data-node={n.id}>
              <span className="dot" aria-hidden>●</span>
              <strong>{n.label}</strong> <span className="role">{n.role}</span>
              <span className="age">{alive ? "alive" : "dead"} · heartbeat {Math.max(0, Math.round((now - n.lastSeen) / 1000))}s ago</span>
              <span className="addr">{n.address}</span>
              {running.length > 0 && <span className="running">working on {running.join(", ")}</span>}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
