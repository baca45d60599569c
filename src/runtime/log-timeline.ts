/**
 * A story log (JSON lines `{t, node, slot, kind, text?, event?}`, where `event` is a Claude Code
 * stream-json event) turned into a timeline people can read: what the agent said, each tool call
 * with its essential input, a short result, errors, notes and the final result.
 *
 * Pure and dependency-free: the CLI (`huskies story log`) and the board both import it, so the
 * terminal and the browser always tell the same story. The builder is incremental because both
 * follow live logs line by line.
 */

import type { LogEntry } from "./log-entry.js";
import { codexEntries, geminiEntries } from "./cli-timeline.js";

/** One line of a story log, as written by `StoryLogs.append`. */
export type StoryLogLine = LogEntry;

export type TimelineEntry =
  /** A run starts: "coder claude-1 (claude-code) started on node …". */
  | { kind: "run"; t: number; role: string; slot: string; runtime: string; node: string; text: string }
  | { kind: "text"; t: number; text: string }
  | { kind: "tool"; t: number; id?: string; name: string; input: string }
  | { kind: "tool_result"; t: number; name?: string; text: string; moreLines: number; error: boolean }
  | { kind: "error"; t: number; text: string }
  | { kind: "info"; t: number; text: string }
  /** Raw output of a runtime that does not speak stream-json (the `command` runtime). */
  | { kind: "output"; t: number; stream: "stdout" | "stderr"; text: string }
  | { kind: "result"; t: number; ok: boolean; text: string; turns?: number; costUsd?: number; durationMs?: number; tokens?: number };

export interface TimelineRun {
  /** The run's header, or undefined for notes written before the first run. */
  header?: Extract<TimelineEntry, { kind: "run" }>;
  entries: TimelineEntry[];
}

/** How many lines of a tool's result the timeline keeps, and how long each may be. */
const RESULT_LINES = 3;
const LINE_CHARS = 240;
/** Tool inputs (a long heredoc, a big JSON) are cut here: the essential part comes first. */
const INPUT_CHARS = 500;

const RUN_START = /^(\S+) (\S+) \((\S+)\) started on node (\S+)/;
/** Notes that report a failure ("coder finished: exited with code 1", "job error: …"). */
const FAILED_NOTE = /^(?:\S+ finished: (?!ok$)|job error:|blocked after )/;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Parse the JSON lines of a log; a line that is not a log entry becomes raw output (never throws). */
export function parseLogLine(line: string): StoryLogLine | undefined {
  if (!line.trim()) return undefined;
  try {
    const v = obj(JSON.parse(line));
    if (v && typeof v.kind === "string") return { ...v, t: num(v.t) ?? 0, kind: v.kind } as StoryLogLine;
  } catch {
    /* not JSON: fall through */
  }
  return { t: 0, kind: "stdout", text: line };
}

export function parseLog(text: string): StoryLogLine[] {
  return text
    .split("\n")
    .map(parseLogLine)
    .filter((l): l is StoryLogLine => !!l);
}

/** Turns log lines into timeline entries, one line at a time (keeps tool names and the cwd). */
export class TimelineBuilder {
  private readonly tools = new Map<string, string>();
  private cwd: string | undefined;
  /** The final `result` repeats the last assistant text; the timeline shows it once. */
  private lastText = "";

  /** The timeline entries `line` adds (often one, sometimes none or several). */
  push(line: StoryLogLine): TimelineEntry[] {
    const t = line.t;
    switch (line.kind) {
      case "event":
        return this.event(t, obj(line.event) ?? {});
      case "info": {
        const text = line.text ?? "";
        const m = RUN_START.exec(text);
        if (m) {
          this.tools.clear();
          this.cwd = undefined;
          this.lastText = "";
          return [{ kind: "run", t, role: m[1]!, slot: m[2]!, runtime: m[3]!, node: m[4]!, text }];
        }
        return [{ kind: FAILED_NOTE.test(text) ? "error" : "info", t, text }];
      }
      case "stdout":
      case "stderr":
        return line.text ? [{ kind: "output", t, stream: line.kind, text: clip(line.text, LINE_CHARS * 4) }] : [];
      case "gate":
        return [{ kind: "info", t, text: line.text ?? "" }];
      default:
        return line.text ? [{ kind: "info", t, text: line.text }] : [];
    }
  }

  private event(t: number, e: Json): TimelineEntry[] {
    // codex's and gemini's events (their own vocabularies; gemini's `result` carries `status`).
    const other = codexEntries(t, e) ?? (e.type !== "result" || typeof e.status === "string" ? geminiEntries(t, e, this.tools) : undefined);
    if (other) return other;
    switch (e.type) {
      case "system":
        return this.system(t, e);
      case "assistant":
        return this.assistant(t, obj(e.message));
      case "user":
        return this.toolResults(t, obj(e.message));
      case "result": {
        const r = finalResult(t, e);
        return [r.ok && r.text.trim() === this.lastText ? { ...r, text: "" } : r];
      }
      case "rate_limit_event": {
        const info = obj(e.rate_limit_info) ?? {};
        const status = str(info.status);
        if (status !== "rejected" && status !== "allowed_warning") return [];
        const resets = num(info.resetsAt);
        const when = resets ? `, resets ${new Date(resets * (resets < 1e12 ? 1000 : 1)).toISOString()}` : "";
        const used = num(info.utilization);
        return [
          {
            kind: status === "rejected" ? "error" : "info",
            t,
            text: `usage limit ${status}${used !== undefined ? ` (${Math.round(used * 100)}% used)` : ""}${when}`,
          },
        ];
      }
      default:
        return [];
    }
  }

  private system(t: number, e: Json): TimelineEntry[] {
    if (e.subtype === "init") {
      this.cwd = str(e.cwd);
      const parts = [str(e.model) && `model ${e.model}`, str(e.session_id) && `session ${String(e.session_id).slice(0, 8)}`].filter(
        Boolean,
      );
      const version = str(e.claude_code_version) ? ` ${e.claude_code_version}` : "";
      return [{ kind: "info", t, text: `claude${version} started${parts.length ? `: ${parts.join(", ")}` : ""}` }];
    }
    if (e.subtype === "api_retry") {
      const status = num(e.error_status);
      const delay = num(e.retry_delay_ms);
      return [
        {
          kind: "error",
          t,
          text: `API error${status ? ` ${status}` : ""}${str(e.error) ? ` (${e.error})` : ""}: retry ${num(e.attempt) ?? "?"}/${num(e.max_retries) ?? "?"}${delay !== undefined ? ` in ${Math.round(delay / 1000)}s` : ""}`,
        },
      ];
    }
    return [];
  }

  private assistant(t: number, message: Json | undefined): TimelineEntry[] {
    const out: TimelineEntry[] = [];
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      const b = obj(block);
      if (!b) continue;
      if (b.type === "text" && str(b.text)?.trim()) {
        this.lastText = String(b.text).trim();
        out.push({ kind: "text", t, text: this.lastText });
      }
      if (b.type === "tool_use") {
        const name = str(b.name) ?? "tool";
        if (str(b.id)) this.tools.set(String(b.id), name);
        out.push({ kind: "tool", t, id: str(b.id), name, input: clip(toolInput(name, obj(b.input) ?? {}, this.cwd), INPUT_CHARS) });
      }
    }
    return out;
  }

  private toolResults(t: number, message: Json | undefined): TimelineEntry[] {
    const out: TimelineEntry[] = [];
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      const b = obj(block);
      if (b?.type !== "tool_result") continue;
      const lines = resultText(b.content)
        .split("\n")
        .filter((l) => l.trim());
      out.push({
        kind: "tool_result",
        t,
        name: str(b.tool_use_id) ? this.tools.get(String(b.tool_use_id)) : undefined,
        text: lines
          .slice(0, RESULT_LINES)
          .map((l) => clip(this.relative(l), LINE_CHARS))
          .join("\n"),
        moreLines: Math.max(0, lines.length - RESULT_LINES),
        error: b.is_error === true,
      });
    }
    return out;
  }

  private relative(s: string): string {
    return this.cwd ? s.split(`${this.cwd}/`).join("") : s;
  }
}

function finalResult(t: number, e: Json): Extract<TimelineEntry, { kind: "result" }> {
  const ok = e.is_error !== true && (e.subtype === undefined || e.subtype === "success");
  const errors = Array.isArray(e.errors) ? e.errors.filter((x) => typeof x === "string").join("; ") : "";
  return {
    kind: "result",
    t,
    ok,
    text: str(e.result) || errors || String(e.subtype ?? (ok ? "done" : "error")),
    turns: num(e.num_turns),
    costUsd: num(e.total_cost_usd),
    durationMs: num(e.duration_ms),
  };
}

/** The essential input of a tool call: the command, the file, the pattern. */
export function toolInput(name: string, input: Json, cwd?: string): string {
  const path = (p: unknown) => {
    const s = str(p) ?? "";
    return cwd && s.startsWith(`${cwd}/`) ? s.slice(cwd.length + 1) : s;
  };
  switch (name) {
    case "Bash":
      return str(input.command) ?? "";
    case "Write":
    case "Edit":
    case "MultiEdit":
    case "Read":
      return path(input.file_path);
    case "NotebookEdit":
      return path(input.notebook_path);
    case "Glob":
    case "Grep": {
      const where = [str(input.path) && `in ${path(input.path)}`, str(input.glob) && `(${input.glob})`].filter(Boolean).join(" ");
      return `${str(input.pattern) ?? ""}${where ? ` ${where}` : ""}`;
    }
    case "WebFetch":
      return str(input.url) ?? "";
    case "WebSearch":
      return str(input.query) ?? "";
    case "Task":
    case "Agent":
      return str(input.description) ?? str(input.prompt) ?? "";
    case "TodoWrite":
      return Array.isArray(input.todos) ? `${input.todos.length} todos` : "";
    default: {
      const json = JSON.stringify(input);
      return json === "{}" ? "" : json;
    }
  }
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((c) => str(obj(c)?.text) ?? "")
      .filter(Boolean)
      .join("\n");
  return "";
}

/** The whole timeline of a log, in order. */
export function buildTimeline(lines: readonly StoryLogLine[]): TimelineEntry[] {
  const b = new TimelineBuilder();
  return lines.flatMap((l) => b.push(l));
}

/** Entries grouped into runs: a `run` entry starts a new one. */
export function groupRuns(entries: readonly TimelineEntry[]): TimelineRun[] {
  const runs: TimelineRun[] = [];
  for (const e of entries) {
    if (e.kind === "run") runs.push({ header: e, entries: [] });
    else {
      if (runs.length === 0) runs.push({ entries: [] });
      runs[runs.length - 1]!.entries.push(e);
    }
  }
  return runs;
}

/** "12.3s", "4m 05s": run durations at a glance. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const s = Math.round(ms / 1000);
  return s < 3600
    ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`
    : `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The final result's numbers: "8 turns · $0.0384 · 3.6s". */
export function resultStats(e: Extract<TimelineEntry, { kind: "result" }>): string {
  return [
    e.turns !== undefined ? `${e.turns} turn${e.turns === 1 ? "" : "s"}` : "",
    e.costUsd !== undefined ? `$${e.costUsd.toFixed(4)}` : "",
    e.tokens !== undefined ? `${e.tokens} tokens` : "",
    e.durationMs !== undefined ? formatDuration(e.durationMs) : "",
  ]
    .filter(Boolean)
    .join(" · ");
}
