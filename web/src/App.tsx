import { lazy, Suspense, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { whyStuck } from "../../src/pipeline/stuck-hint";
import { adminToken } from "./use-pipeline";
import { useBoardConfig } from "./use-board-config";
import { boardStore } from "./board-data/board-store";
import { connectBoard, firstPainted } from "./board-data/connect";
import { Board } from "./board/Board";
import { FilterBar } from "./board/FilterBar";
import { MoveAnnouncer, MovesProvider, RefusedMoveNotice } from "./moves/use-moves";
import { NodesPanel } from "./NodesPanel";
import { NewStoryForm } from "./NewStoryForm";
import { useUrlQuery, useUrlStory } from "./use-url-state";

/** The chat (its own chunk: nothing of it is needed for the board's first paint). */
const ChatPanel = lazy(() => import("./ChatPanel").then((m) => ({ default: m.ChatPanel })));

type StoryViewModule = typeof import("./StoryView");
let storyViewModule: StoryViewModule | undefined;
/**
 * The story view (markdown, syntax highlighting, the log) is most of the board's code: it loads
 * after the first paint, and is in memory before anyone clicks, so a story opens without waiting.
 */
const loadStoryView = () => import("./StoryView").then((m) => (storyViewModule = m));

export function App() {
  const version = useSyncExternalStore(boardStore.subscribe, boardStore.getVersion);
  useEffect(() => connectBoard(boardStore, adminToken()), []);
  const [, setLoaded] = useState(0);
  useEffect(() => {
    let live = true;
    void firstPainted.then(loadStoryView).then(() => live && setLoaded((n) => n + 1));
    return () => {
      live = false;
    };
  }, []);
  const cfg = useBoardConfig();
  const [query, setQuery] = useUrlQuery();
  const [selected, setSelected] = useUrlStory();
  const { nodes, connection, live, wasConnected } = boardStore;
  const labelKey = nodes.map((n) => `${n.id}=${n.label}`).join(",");
  // Stable while no label changes, so the story view does not re-render on every heartbeat.
  const labels = useMemo(() => new Map(nodes.map((n) => [n.id, n.label])), [labelKey]);
  // The nodes panel lists what each node holds: only claimed items can be that.
  const claimed = useMemo(() => [...boardStore.all()].filter((i) => i.claim), [version]);
  const runtimes = useMemo(() => {
    const seen = new Set<string>();
    for (const i of boardStore.all()) if (i.lastRun?.runtime) seen.add(i.lastRun.runtime);
    return [...seen];
  }, [version]);
  const current = selected ? boardStore.get(selected) : undefined;
  const StoryView = storyViewModule?.StoryView;
  return (
    <div className="app">
      <header>
        <h1>huskies</h1>
        <span className={`conn conn-${connection}`} data-testid="connection" role="status">
          {connection === "connected" ? "live" : connection === "connecting" ? "connecting…" : "disconnected — reconnecting…"}
        </span>
        {!live && connection !== "disconnected" && <span className="muted loading-doc">loading the whole history…</span>}
      </header>
      {(connection === "disconnected" || (wasConnected && connection !== "connected")) && (
        <div className="banner" role="alert">
          Not connected to the server. The board shows the last state it saw and reconnects by itself.
        </div>
      )}
      <NewStoryForm />
      <FilterBar query={query} onQuery={setQuery} nodes={nodes} runtimes={runtimes} live={live} />
      <MovesProvider>
        <div className="board-area">
          <RefusedMoveNotice />
          <MoveAnnouncer />
          <Board version={version} query={query} onQuery={setQuery} labels={labels} nodes={nodes} cfg={cfg} onSelect={setSelected} />
        </div>
      </MovesProvider>
      <NodesPanel nodes={nodes} items={claimed} cfg={cfg} />
      <Suspense fallback={null}>
        <ChatPanel />
      </Suspense>
      {current && StoryView && (
        <StoryView
          item={current}
          labels={labels}
          cfg={cfg}
          hint={whyStuck(current, nodes, Date.now(), cfg)}
          onClose={() => setSelected(null)}
        />
      )}
      {current && !StoryView && (
        <div className="overlay" role="dialog" aria-label={current.name} aria-busy="true">
          <p className="muted">opening…</p>
        </div>
      )}
    </div>
  );
}
