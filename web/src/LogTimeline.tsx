import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";
import {
  groupRuns,
  parseLogLine,
  resultStats,
  TimelineBuilder,
  type TimelineEntry,
  type TimelineRun,
} from "../../src/runtime/log-timeline";
import { adminToken } from "./use-pipeline";

/** Runs kept on screen (older ones are summarised in one line); and entries kept in memory. */
const RUNS_SHOWN = 5;
const MAX_ENTRIES = 5000;

type Follow = "connecting" | "live" | "closed";

/**
 * The story's agent log as a timeline (the same module `huskies story log` prints with), followed
 * live through `GET /api/stories/:id/log?follow` (SSE). The server replays the whole log on each
 * connection, so every (re)connection starts the timeline afresh. `logNode` is in the key because
 * the log lives on the node that runs the story: when that changes, the server relays another
 * node's stream.
 */
export function LogTimeline({ id, logNode, labels }: { id: string; logNode?: string; labels: Map<string, string> }) {
  const [entries, setEntries] = useState<TimelineEntry[]>([]);
  const [follow, setFollow] = useState<Follow>("connecting");
  useEffect(() => {
    let builder = new TimelineBuilder();
    let pending: TimelineEntry[] = [];
    let frame = 0;
    // Many lines arrive at once on connect: apply them once per frame, not once per line.
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setEntries((prev) => (prev.length + batch.length > MAX_ENTRIES ? [...prev, ...batch].slice(-MAX_ENTRIES) : [...prev, ...batch]));
    };
    // EventSource cannot send headers: a server that wants the admin token for reads takes it as `?token=`.
    const token = adminToken();
    const source = new EventSource(
      `/api/stories/${encodeURIComponent(id)}/log?follow${token ? `&token=${encodeURIComponent(token)}` : ""}`,
    );
    source.onopen = () => {
      builder = new TimelineBuilder();
      pending = [];
      setEntries([]);
      setFollow("live");
    };
    source.onerror = () => setFollow(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    source.onmessage = (e) => {
      const line = parseLogLine(String(e.data));
      if (!line) return;
      pending.push(...builder.push(line));
      if (!frame) frame = requestAnimationFrame(flush);
    };
    return () => {
      source.close();
      if (frame) cancelAnimationFrame(frame);
      setEntries([]);
      setFollow("connecting");
    };
  }, [id, logNode]);

  const runs = useMemo(() => groupRuns(entries), [entries]);
  const shown = runs.slice(-RUNS_SHOWN);
  const hidden = runs.length - shown.length;
  return (
    <section className="timeline" aria-label="agent log">
      <h3>
        agent log{" "}
        <span className={`follow follow-${follow}`} data-testid="log-follow">
          {follow === "live" ? "● live" : follow === "connecting" ? "connecting…" : "closed"}
        </span>
      </h3>
      {runs.length === 0 && <p className="muted">No output yet.</p>}
      {hidden > 0 && (
        <p className="muted">
          {hidden} earlier run{hidden === 1 ? "" : "s"} not shown (<code>huskies story log {id}</code> prints them all).
        </p>
      )}
      {shown.map((run, i) => (
        <Run key={hidden + i} run={run} number={hidden + i + 1} last={i === shown.length - 1} labels={labels} />
      ))}
    </section>
  );
}

function Run({ run, number, last, labels }: { run: TimelineRun; number: number; last: boolean; labels: Map<string, string> }) {
  const h = run.header;
  const result = [...run.entries].reverse().find((e): e is Extract<TimelineEntry, { kind: "result" }> => e.kind === "result");
  const body = useRef<HTMLOListElement>(null);
  const stick = useRef(true);
  // Follow the newest line while the reader is at the bottom; leave the scroll alone otherwise.
  useLayoutEffect(() => {
    const el = body.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [run.entries.length]);
  return (
    <details className="run" open={last} data-run={number}>
      <summary>
        <strong>run {number}</strong>
        {h ? (
          <>
            {" "}
            · {h.role} {h.slot} ({h.runtime}) on {labels.get(h.node) ?? h.node.slice(0, 8)} · {new Date(h.t).toLocaleTimeString()}
          </>
        ) : (
          " · notes"
        )}
        {result && (
          <span className={result.ok ? "ok" : "bad"}>
            {" "}
            · {result.ok ? "✓" : "✗"} {resultStats(result) || (result.ok ? "done" : "failed")}
          </span>
        )}
      </summary>
      <ol
        className="entries"
        ref={body}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {run.entries.map((e, i) => (
          <Entry key={i} e={e} />
        ))}
      </ol>
    </details>
  );
}

function Entry({ e }: { e: TimelineEntry }) {
  const time = e.t ? new Date(e.t).toLocaleTimeString() : "";
  const at = (
    <time className="at" dateTime={e.t ? new Date(e.t).toISOString() : undefined}>
      {time}
    </time>
  );
  switch (e.kind) {
    case "text":
      return (
        <li className="e e-text">
          {at}
          <div className="says">
            <Markdown remarkPlugins={[remarkGfm]}>{e.text}</Markdown>
          </div>
        </li>
      );
    case "tool":
      return (
        <li className="e e-tool" data-tool={e.name}>
          {at}
          <span className="tool-name">{e.name}</span>
          <code className="tool-input">{e.input}</code>
        </li>
      );
    case "tool_result":
      return (
        <li className={`e e-result${e.error ? " e-error" : ""}`}>
          {at}
          <div>
            <pre>
              {e.error ? "✗ " : "↳ "}
              {e.text || (e.error ? "error" : "(no output)")}
            </pre>
            {e.moreLines > 0 && <span className="muted">+{e.moreLines} more lines</span>}
          </div>
        </li>
      );
    case "error":
      return (
        <li className="e e-error" role="note">
          {at}
          <span>{e.text}</span>
        </li>
      );
    case "info":
      return (
        <li className="e e-info">
          {at}
          <span>{e.text}</span>
        </li>
      );
    case "output":
      return (
        <li className={`e e-output e-${e.stream}`}>
          {at}
          <pre>{e.text}</pre>
        </li>
      );
    case "result":
      return (
        <li className={`e e-final ${e.ok ? "ok" : "bad"}`}>
          {at}
          <span>
            <strong>{e.ok ? "✓ done" : "✗ failed"}</strong>
            {resultStats(e) && ` · ${resultStats(e)}`}
            {e.text && <>: {e.text}</>}
          </span>
        </li>
      );
    case "run":
      return null;
  }
}
