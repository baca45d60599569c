import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildTimeline,
  groupRuns,
  parseLog,
  parseLogLine,
  resultStats,
  TimelineBuilder,
  type TimelineEntry,
} from "../../src/runtime/log-timeline.js";
import { formatEntry } from "../../src/cli/print-timeline.js";

/** Two runs of the real `claude` binary against the scripted model (test/fixtures/record-claude-transcript.mjs). */
const FIXTURE = readFileSync(join(import.meta.dirname, "..", "fixtures", "claude-story-log.jsonl"), "utf8");

const of = <K extends TimelineEntry["kind"]>(entries: TimelineEntry[], kind: K) =>
  entries.filter((e): e is Extract<TimelineEntry, { kind: K }> => e.kind === kind);

describe("the log timeline of a real claude transcript", () => {
  const entries = buildTimeline(parseLog(FIXTURE));

  it("shows each tool call with its essential input, relative to the worktree", () => {
    expect(of(entries, "tool").map((e) => [e.name, e.input])).toEqual([
      ["Write", "greeting.js"],
      ["Read", "greeting.js"],
      ["Edit", "greeting.js"],
      ["Glob", "**/*.js"],
      ["Grep", "greet"],
      ["Bash", "npm test --silent"],
      ["Bash", "git add greeting.js && git commit -qm 'Add a greeting' && git log --oneline"],
      ["Bash", "sed -i 's/Hi/Hello/' greeting.js && git commit -qam 'Say hello again'"],
    ]);
  });

  it("keeps a short result per tool call, flags errors and names the tool", () => {
    const results = of(entries, "tool_result");
    expect(results).toHaveLength(8);
    expect(results[5]).toMatchObject({ name: "Bash", error: true, text: "Exit code 1" });
    expect(results[6]).toMatchObject({ name: "Bash", error: false, text: expect.stringContaining("Add a greeting") });
    expect(results[0]!.text).toContain("File created successfully at: greeting.js");
    expect(results[0]!.text).not.toContain("/tmp/");
    for (const r of results) expect(r.text.split("\n").length).toBeLessThanOrEqual(3);
  });

  it("shows the assistant's final text and the result with turns, cost and duration", () => {
    expect(of(entries, "text").map((e) => e.text)).toEqual([
      "Done: `greeting.js` exports `greet(name)`, and it is committed on the feature branch.",
      'Changed the greeting back to "Hello" as the reviewer asked, and committed it.',
    ]);
    const [first] = of(entries, "result");
    // The result repeats the final text; the timeline shows it once.
    expect(first).toMatchObject({ ok: true, text: "", turns: 8, costUsd: expect.any(Number), durationMs: expect.any(Number) });
    expect(resultStats(first!)).toMatch(/^8 turns · \$0\.\d{4} · \d+(\.\d)?s$/);
  });

  it("separates runs at each 'started on node' note", () => {
    const runs = groupRuns(entries);
    expect(runs).toHaveLength(2);
    expect(runs.map((r) => r.header && [r.header.role, r.header.slot, r.header.runtime])).toEqual([
      ["coder", "claude-1", "claude-code"],
      ["coder", "claude-1", "claude-code"],
    ]);
    expect(of(runs[0]!.entries, "tool")).toHaveLength(7);
    expect(of(runs[1]!.entries, "tool")).toHaveLength(1);
    expect(runs[0]!.entries.some((e) => e.kind === "info" && e.text === "sent back to current: Please say Hello, not Hi.")).toBe(true);
  });

  it("prints one line per entry, without colour unless asked", () => {
    const lines = entries.map((e) => formatEntry(e, { color: false }));
    expect(lines.every((l) => !l.includes("\n") && !l.includes("\x1b["))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/Bash +npm test --silent$/));
    expect(lines).toContainEqual(expect.stringMatching(/✗ Exit code 1$/));
    expect(lines).toContainEqual(expect.stringMatching(/ {3}✓ done \(8 turns · \$[0-9.]+ · [0-9.]+s\)$/));
    expect(lines.filter((l) => l.includes("▶ run: coder claude-1 (claude-code) on node 4f1c2a9e0b7d"))).toHaveLength(2);
    expect(formatEntry(entries[0]!, { color: true })).toContain("\x1b[");
  });
});

describe("the timeline on other inputs", () => {
  it("reports error results, API retries and rejected usage limits as errors", () => {
    const b = new TimelineBuilder();
    const ev = (event: unknown) => b.push({ t: 1, kind: "event", event });
    expect(
      ev({
        type: "system",
        subtype: "api_retry",
        attempt: 1,
        max_retries: 10,
        retry_delay_ms: 4000,
        error_status: 429,
        error: "rate_limit",
      }),
    ).toEqual([{ kind: "error", t: 1, text: "API error 429 (rate_limit): retry 1/10 in 4s" }]);
    expect(ev({ type: "rate_limit_event", rate_limit_info: { status: "allowed" } })).toEqual([]);
    expect(ev({ type: "rate_limit_event", rate_limit_info: { status: "rejected", resetsAt: 1767225600 } })[0]).toMatchObject({
      kind: "error",
      text: "usage limit rejected, resets 2026-01-01T00:00:00.000Z",
    });
    expect(
      ev({ type: "result", subtype: "success", is_error: true, result: "Not logged in · Please run /login", num_turns: 1 })[0],
    ).toMatchObject({ kind: "result", ok: false, text: "Not logged in · Please run /login", turns: 1 });
    expect(ev({ type: "result", subtype: "error_max_turns", num_turns: 6 })[0]).toMatchObject({ ok: false, text: "error_max_turns" });
  });

  it("keeps command-runtime output, failed notes and unparsable lines, and never throws", () => {
    const lines = parseLog(
      [
        JSON.stringify({ t: 5, kind: "info", text: "coder coder-1 (command) started on node abc" }),
        JSON.stringify({ t: 6, kind: "stdout", text: "compiling" }),
        JSON.stringify({ t: 7, kind: "stderr", text: "warning: x" }),
        JSON.stringify({ t: 8, kind: "info", text: "coder finished: exited with code 1" }),
        "not json at all",
        JSON.stringify({ t: 9, kind: "event", event: { type: "assistant", message: { content: "odd" } } }),
        JSON.stringify({ t: 9, kind: "event", event: null }),
        "[1,2]",
        "",
      ].join("\n"),
    );
    const entries = buildTimeline(lines);
    expect(entries.map((e) => e.kind)).toEqual(["run", "output", "output", "error", "output", "output"]);
    expect(entries[4]).toMatchObject({ kind: "output", text: "not json at all" });
    expect(parseLogLine("   ")).toBeUndefined();
  });

  it("summarises the input of other tools", () => {
    const b = new TimelineBuilder();
    const tool = (name: string, input: unknown) =>
      b.push({ t: 1, kind: "event", event: { type: "assistant", message: { content: [{ type: "tool_use", id: name, name, input }] } } })[0];
    expect(tool("Grep", { pattern: "TODO", path: "src", glob: "*.ts" })).toMatchObject({ input: "TODO in src (*.ts)" });
    expect(tool("WebFetch", { url: "https://example.com" })).toMatchObject({ input: "https://example.com" });
    expect(tool("TodoWrite", { todos: [{}, {}] })).toMatchObject({ input: "2 todos" });
    expect(tool("mcp__x__y", { a: 1 })).toMatchObject({ input: '{"a":1}' });
    expect((tool("Bash", { command: "x".repeat(2000) }) as { input: string }).input.length).toBeLessThanOrEqual(500);
    const result = b.push({
      t: 2,
      kind: "event",
      event: {
        type: "user",
        message: { content: [{ type: "tool_result", tool_use_id: "Grep", content: [{ type: "text", text: "a\nb\nc\nd\ne" }] }] },
      },
    });
    expect(result).toEqual([{ kind: "tool_result", t: 2, name: "Grep", text: "a\nb\nc", moreLines: 2, error: false }]);
  });
});
