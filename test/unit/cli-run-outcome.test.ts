import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CliEvent, CliFacts } from "../../src/runtime/cli-outcome.js";
import { classifyCodex, codexLiveAction, codexResetsAt } from "../../src/runtime/codex-signals.js";
import { classifyGemini, geminiLiveAction } from "../../src/runtime/gemini-signals.js";
import { PACKAGE_ROOT } from "../support/paths.js";

const NOW = Date.UTC(2026, 11, 4, 19, 14);
/** The fixed reset the transcripts' usage limits were recorded with (scripts/capture-cli-transcripts.mjs). */
const RECORDED_RESET = 1_900_000_000_000;

const facts = (events: Array<Record<string, unknown>>, over: Partial<CliFacts> = {}): CliFacts => ({
  events,
  stdout: [],
  stderr: [],
  exit: 0,
  endedAt: NOW,
  ...over,
});

const LIVE = { codex: codexLiveAction, gemini: geminiLiveAction } as const;

/**
 * A recorded run of the real codex-cli 0.171 / gemini-cli 0.61 against the scripted vendor servers
 * (`scripts/capture-cli-transcripts.mjs`), as the runtime collects it: JSON lines are events, other
 * stdout and stderr lines are kept. A run the runtime stopped on a live event (the capture killed it
 * there too) carries the stop the live rule gave, as `CliAgentRuntime` records it.
 */
function transcript(cli: "codex" | "gemini", name: string): CliFacts & { signals: unknown[] } {
  const events: CliEvent[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const signals: unknown[] = [];
  let exit: number | null = null;
  let signal: string | undefined;
  let stopped: CliFacts["stopped"];
  const file = join(PACKAGE_ROOT, "test", "fixtures", `${cli}-transcripts`, `${name}.jsonl`);
  for (const raw of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const line = JSON.parse(raw) as { stdout?: string; stderr?: string; exit?: number | null; signal?: string | null };
    if (line.stdout !== undefined) {
      let event: CliEvent | undefined;
      try {
        event = JSON.parse(line.stdout) as CliEvent;
      } catch {
        stdout.push(line.stdout);
        continue;
      }
      events.push(event);
      const action = LIVE[cli](event, NOW);
      if (action?.signal) signals.push(action.signal);
      if (action && "stop" in action && action.stop) stopped ??= action.stop;
    } else if (line.stderr !== undefined) stderr.push(line.stderr);
    else if ("exit" in line) [exit, signal] = [line.exit ?? null, line.signal ?? undefined];
  }
  return { events, stdout, stderr, exit, signal, stopped, endedAt: NOW, signals };
}

describe("codex runs (recorded)", () => {
  it("success: done, with the final message, tokens and the session from thread.started", () => {
    const f = transcript("codex", "success");
    const c = classifyCodex(f);
    const thread = f.events.find((e) => e.type === "thread.started")!.thread_id;
    expect(c).toMatchObject({
      outcome: "done",
      finalText: "Done: said hello.",
      sessionId: thread,
      tokens: { input: 2400, cached: 0, output: 160 },
    });
    expect(c.error).toBeUndefined();
    expect(f.signals).toEqual([{ kind: "session", sessionId: thread }]);
  });

  it("a 429 usage limit is the account's, signalled at once with the reset codex names (read as UTC)", () => {
    const f = transcript("codex", "usage-limit-429");
    const resetsAt = Math.floor(RECORDED_RESET / 60_000) * 60_000; // codex prints the minute
    expect(classifyCodex(f)).toMatchObject({
      outcome: "node_failure",
      accountTrouble: "limit",
      resetsAt,
      error: expect.stringContaining("You’ve hit your usage limit"),
    });
    expect(f.signals).toContainEqual({ kind: "node-failure", reason: "usage limit reached", resetsAt, accountTrouble: "limit" });
  });

  it("a missing key is the account's credentials, stopped at its first sign", () => {
    const f = transcript("codex", "missing-credential");
    expect(f.stopped).toMatchObject({ kind: "node_failure" });
    const c = classifyCodex(f);
    expect(c).toMatchObject({ outcome: "node_failure", accountTrouble: "credentials" });
    expect(`${c.error} ${c.reason}`).toMatch(/OPENAI_API_KEY|missing credentials/);
  });

  it("a rejected key (401) is the account's credentials: the first reconnect stops the run", () => {
    const f = transcript("codex", "invalid-key-401");
    expect(f.stopped).toMatchObject({ kind: "node_failure", reason: "invalid credentials" });
    expect(classifyCodex(f)).toMatchObject({ outcome: "node_failure", accountTrouble: "credentials" });
  });

  it("a failed turn is the story's; an unknown session to resume is lost, to start afresh", () => {
    expect(classifyCodex(transcript("codex", "failed-turn"))).toMatchObject({
      outcome: "story_failure",
      error: expect.stringContaining("the model could not continue"),
    });
    expect(classifyCodex(transcript("codex", "resume-not-found"))).toMatchObject({ outcome: "lost", resumeFailed: true });
  });

  it("the other forms of codex's reset time", () => {
    expect(codexResetsAt("You’ve hit your usage limit. Try again at Dec 7th, 2026 7:14 PM.", NOW)).toBe(Date.UTC(2026, 11, 7, 19, 14));
    expect(codexResetsAt("You’ve hit your usage limit. try again at 8:14 PM.", NOW)).toBe(Date.UTC(2026, 11, 4, 20, 14));
    expect(codexResetsAt("You’ve hit your usage limit. try again at 7:00 PM.", NOW)).toBe(Date.UTC(2026, 11, 5, 19, 0));
    expect(codexResetsAt("You’ve hit your usage limit. Try again later.", NOW)).toBeUndefined();
  });

  it("a server in trouble is the node's; a budget stop is the story's failure of kind budget; a stop by huskies is lost", () => {
    const thread = { type: "thread.started", thread_id: "01a2427a-89fb-7eb0-9fcf-1d3a8a10929b" };
    const busy = "We’re currently experiencing high demand, which may cause temporary errors.";
    expect(
      classifyCodex(facts([thread, { type: "error", message: busy }, { type: "turn.failed", error: { message: busy } }], { exit: 1 }))
        .outcome,
    ).toBe("node_failure");
    expect(
      classifyCodex(facts([thread], { exit: null, budgetStop: true, stopped: { reason: "budget exhausted", kind: "story_failure" } })),
    ).toMatchObject({ outcome: "story_failure", budget: true });
    expect(classifyCodex(facts([thread], { exit: null, stopped: { reason: "claim lost", kind: "lost" } })).outcome).toBe("lost");
  });
});

describe("gemini runs (recorded)", () => {
  it("success: done, with the answer, tokens and the session from init", () => {
    const f = transcript("gemini", "success");
    const session = f.events.find((e) => e.type === "init")!.session_id;
    expect(classifyGemini(f)).toMatchObject({
      outcome: "done",
      finalText: "Done: said hello.",
      sessionId: session,
      tokens: { input: 2400, output: 160, cached: 0 },
    });
    expect(f.signals).toEqual([{ kind: "session", sessionId: session }]);
  });

  it("a 429 quota error is the account's, signalled at once, reset after gemini's suggested delay", () => {
    const f = transcript("gemini", "quota-429");
    expect(classifyGemini(f)).toMatchObject({
      outcome: "node_failure",
      accountTrouble: "limit",
      resetsAt: NOW + 3_600_000,
      error: expect.stringContaining("Quota exceeded"),
    });
    expect(f.signals).toContainEqual(expect.objectContaining({ kind: "node-failure", resetsAt: NOW + 3_600_000, accountTrouble: "limit" }));
  });

  it("a missing or rejected key is the account's credentials", () => {
    const none = classifyGemini(transcript("gemini", "missing-credential"));
    expect(none).toMatchObject({ outcome: "node_failure", accountTrouble: "credentials" });
    expect(`${none.error} ${none.reason}`).toMatch(/GEMINI_API_KEY|missing credentials/);
    expect(classifyGemini(transcript("gemini", "invalid-key-400"))).toMatchObject({
      outcome: "node_failure",
      accountTrouble: "credentials",
      error: expect.stringContaining("API key not valid"),
    });
  });

  it("an unknown session to resume is lost, to start afresh", () => {
    expect(classifyGemini(transcript("gemini", "resume-not-found"))).toMatchObject({ outcome: "lost", resumeFailed: true });
  });

  it("streamed answers are joined after the last tool call; max session turns is the story's", () => {
    const init = { type: "init", session_id: "597b6e95-f412-49da-90c1-16ca19971380", model: "gemini-2.5-pro" };
    const c = classifyGemini(
      facts([
        init,
        { type: "tool_use", tool_name: "run_shell_command", tool_id: "t1", parameters: { command: "git commit" } },
        { type: "tool_result", tool_id: "t1", status: "success", output: "ok" },
        { type: "message", role: "assistant", content: "Did ", delta: true },
        { type: "message", role: "assistant", content: "the thing.", delta: true },
        { type: "result", status: "success", stats: { total_tokens: 240, input_tokens: 200, output_tokens: 40, cached: 0, tool_calls: 1 } },
      ]),
    );
    expect(c).toMatchObject({ outcome: "done", finalText: "Did the thing.", turns: 2 });
    const turns = { type: "result", status: "error", error: { message: "Reached max session turns for this session." } };
    expect(classifyGemini(facts([init, turns], { exit: 53 })).outcome).toBe("story_failure");
  });
});
