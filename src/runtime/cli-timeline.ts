/**
 * Timeline entries for codex's and gemini's JSON events (see `log-timeline.ts`, which calls these
 * for events that are not Claude Code's). Pure and dependency-free: the board imports it too.
 * codex: `thread.started`, `item.started|completed` (`agent_message`, `command_execution`,
 * `file_change`, `error`), `turn.completed|failed`, `error`. gemini: `init`, `message`,
 * `tool_use`, `tool_result`, `result` (with `status` and `stats`), `error`.
 */
import type { TimelineEntry } from "./log-timeline.js";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

const RESULT_LINES = 3;
const LINE_CHARS = 240;

function result(t: number, name: string | undefined, output: string, error: boolean): TimelineEntry {
  const lines = output.split("\n").filter((l) => l.trim());
  return {
    kind: "tool_result",
    t,
    name,
    text: lines
      .slice(0, RESULT_LINES)
      .map((l) => (l.length > LINE_CHARS ? `${l.slice(0, LINE_CHARS - 1)}…` : l))
      .join("\n"),
    moreLines: Math.max(0, lines.length - RESULT_LINES),
    error,
  };
}

/** codex wraps each command as `/bin/bash -lc '…'`: show the command itself. */
function shellCommand(command: string): string {
  const m = /^\S*\/?(?:ba|z)?sh -l?c (['"])([\s\S]*)\1$/.exec(command);
  return m ? m[2]! : command;
}

/** Entries for one codex event, or undefined when it is not one. */
export function codexEntries(t: number, e: Json): TimelineEntry[] | undefined {
  switch (e.type) {
    case "thread.started":
      return [{ kind: "info", t, text: `codex started: session ${String(e.thread_id ?? "").slice(0, 13)}` }];
    case "turn.started":
      return [];
    case "item.started": {
      const item = obj(e.item) ?? {};
      if (item.type !== "command_execution") return [];
      return [{ kind: "tool", t, id: str(item.id), name: "Shell", input: shellCommand(str(item.command) ?? "") }];
    }
    case "item.completed": {
      const item = obj(e.item) ?? {};
      if (item.type === "agent_message") return [{ kind: "text", t, text: str(item.text) ?? "" }];
      if (item.type === "command_execution")
        return [result(t, "Shell", str(item.aggregated_output) ?? "", item.status === "failed" || (num(item.exit_code) ?? 0) !== 0)];
      if (item.type === "file_change") {
        const changes = Array.isArray(item.changes)
          ? item.changes.map((c) => `${str(obj(c)?.kind) ?? "edit"} ${str(obj(c)?.path) ?? ""}`)
          : [];
        return [{ kind: "tool", t, name: "Edit", input: changes.join(", ") }];
      }
      if (item.type === "error") return [{ kind: "info", t, text: str(item.message) ?? "" }];
      return [];
    }
    case "turn.completed": {
      const u = obj(e.usage) ?? {};
      return [{ kind: "result", t, ok: true, text: "", tokens: (num(u.input_tokens) ?? 0) + (num(u.output_tokens) ?? 0) } as TimelineEntry];
    }
    case "turn.failed":
      return [{ kind: "result", t, ok: false, text: str(obj(e.error)?.message) ?? "turn failed" }];
    case "error":
      return [{ kind: "error", t, text: str(e.message) ?? "error" }];
    default:
      return undefined;
  }
}

/** Entries for one gemini event, or undefined when it is not one. */
export function geminiEntries(t: number, e: Json, tools: Map<string, string>): TimelineEntry[] | undefined {
  switch (e.type) {
    case "init":
      return [{ kind: "info", t, text: `gemini started: model ${str(e.model) ?? "?"}, session ${String(e.session_id ?? "").slice(0, 8)}` }];
    case "message":
      return e.role === "assistant" && str(e.content)?.trim() ? [{ kind: "text", t, text: String(e.content).trim() }] : [];
    case "tool_use": {
      const name = str(e.tool_name) ?? "tool";
      if (str(e.tool_id)) tools.set(String(e.tool_id), name);
      const p = obj(e.parameters) ?? {};
      const input = str(p.command) ?? str(p.file_path) ?? str(p.absolute_path) ?? str(p.pattern) ?? JSON.stringify(p);
      return [{ kind: "tool", t, id: str(e.tool_id), name, input }];
    }
    case "tool_result": {
      const name = str(e.tool_id) ? tools.get(String(e.tool_id)) : undefined;
      const failed = e.status !== "success";
      return [result(t, name, str(e.output) ?? str(obj(e.error)?.message) ?? "", failed)];
    }
    case "result": {
      if (typeof e.status !== "string") return undefined;
      const s = obj(e.stats) ?? {};
      const ok = e.status === "success";
      return [
        {
          kind: "result",
          t,
          ok,
          text: ok ? "" : (str(obj(e.error)?.message) ?? "error"),
          durationMs: num(s.duration_ms),
          tokens: num(s.total_tokens),
        } as TimelineEntry,
      ];
    }
    case "error":
      return [{ kind: "error", t, text: str(e.message) ?? "error" }];
    default:
      return undefined;
  }
}
