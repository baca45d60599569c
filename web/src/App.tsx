import { useMemo, useState } from "react";
import { whyStuck } from "../../src/pipeline/stuck-hint";
import { usePipeline } from "./use-pipeline";
import { useBoardConfig } from "./use-board-config";
import { Board } from "./Board";
import { NodesPanel } from "./NodesPanel";
import { NewStoryForm } from "./NewStoryForm";
import { StoryView } from "./StoryView";
import { ChatPanel } from "./ChatPanel";

export function App() {
  const { items, nodes, connection } = usePipeline();
  const cfg = useBoardConfig();
  const [selected, setSelected] = useState<string | null>(null);
  const labelKey = nodes.map((n) => `${n.id}=${n.label}`).join(",");
  // Stable while no label changes, so the story view does not re-render on every heartbeat.
  const labels = useMemo(() => new Map(nodes.map((n) => [n.id, n.label])), [labelKey]);
  const current = items.find((i) => i.id === selected);
  return (
    <div className="app">
      <header>
        <h1>huskies</h1>
        <span className={`conn conn-${connection}`} data-testid="connection" role="status">
          {connection === "connected" ? "live" : connection === "connecting" ? "connecting…" : "disconnected — reconnecting…"}
        </span>
      </header>
      {connection !== "connected" && (
        <div className="banner" role="alert">
          Not connected to the server. The board shows the last state it saw and reconnects by itself.
        </div>
      )}
      <NewStoryForm />
      <Board items={items} nodes={nodes} labels={labels} cfg={cfg} onSelect={setSelected} />
      <NodesPanel nodes={nodes} items={items} cfg={cfg} />
      <ChatPanel />
      {current && (
        <StoryView item={current} labels={labels} hint={whyStuck(current, nodes, Date.now(), cfg)} onClose={() => setSelected(null)} />
      )}
    </div>
  );
}
