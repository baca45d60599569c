import { describe, expect, it } from "vitest";
import type { CliFacts } from "../../src/runtime/cli-outcome.js";
import { classifyCodex, codexLiveAction, codexResetsAt } from "../../src/runtime/codex-signals.js";
import { classifyGemini, geminiLiveAction } from "../../src/runtime/gemini-signals.js";

const NOW = Date.UTC(2026, 11, 4, 19, 14);
/** Lines as codex-cli 0.171 and gemini-cli 0.61 printed them against the scripted servers. */
const facts = (events: Array<Record<string, unknown>>, over: Partial<CliFacts> = {}): CliFacts => ({
  events,
  stdout: [],
  stderr: [],
  exit: 0,
  endedAt: NOW,
  ...over,
});

describe("codex runs", () => {
  const thread = { type: "thread.started", thread_id: "01a2427a-89fb-7eb0-9fcf-1d3a8a10929b" };
  it("a completed turn is done, with the final message, tokens and session", () => {
    const c = classifyCodex(
      facts([
        thread,
        { type: "turn.started" },
        { type: "item.completed", item: { id: "item_1", type: "agent_message", text: "Committed." } },
        { type: "turn.completed", usage: { input_tokens: 200, cached_input_tokens: 20, output_tokens: 40, reasoning_output_tokens: 0 } },
      ]),
    );
    expect(c).toMatchObject({
      outcome: "done",
      finalText: "Committed.",
      sessionId: thread.thread_id,
      tokens: { input: 180, cached: 20, output: 40 },
    });
  });

  it("a usage limit is the account's, with the reset read from codex's message (UTC)", () => {
    const msg =
      "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 8:14 PM.";
    const c = classifyCodex(
      facts([thread, { type: "error", message: msg }, { type: "turn.failed", error: { message: msg } }], { exit: 1 }),
    );
    expect(c).toMatchObject({ outcome: "node_failure", accountTrouble: "limit", resetsAt: Date.UTC(2026, 11, 4, 20, 14), error: msg });
    expect(codexResetsAt("You’ve hit your usage limit. Try again at Dec 7th, 2026 7:14 PM.", NOW)).toBe(Date.UTC(2026, 11, 7, 19, 14));
    expect(codexResetsAt("You’ve hit your usage limit. try again at 7:00 PM.", NOW)).toBe(Date.UTC(2026, 11, 5, 19, 0));
    expect(codexResetsAt("You’ve hit your usage limit. Try again later.", NOW)).toBeUndefined();
    expect(codexLiveAction({ type: "error", message: msg }, NOW)?.signal).toMatchObject({ kind: "node-failure", accountTrouble: "limit" });
  });

  it("a missing key and a rejected key are the account's credentials; the first 401 retry stops the run", () => {
    const missing = "Missing environment variable: `OPENAI_API_KEY`.";
    expect(
      classifyCodex(
        facts([thread, { type: "error", message: missing }, { type: "turn.failed", error: { message: missing } }], { exit: 1 }),
      ),
    ).toMatchObject({
      outcome: "node_failure",
      accountTrouble: "credentials",
    });
    const retry =
      "Reconnecting... 1/5 (unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1:18777/v1/responses)";
    expect(codexLiveAction({ type: "error", message: retry }, NOW)).toMatchObject({
      stop: { kind: "node_failure" },
      signal: { accountTrouble: "credentials" },
    });
  });

  it("a failed turn is the story's; a server in trouble is the node's; an unknown session to resume is lost", () => {
    expect(
      classifyCodex(facts([thread, { type: "turn.failed", error: { message: "the model could not continue" } }], { exit: 1 })).outcome,
    ).toBe("story_failure");
    const busy = "We’re currently experiencing high demand, which may cause temporary errors.";
    expect(
      classifyCodex(facts([thread, { type: "error", message: busy }, { type: "turn.failed", error: { message: busy } }], { exit: 1 }))
        .outcome,
    ).toBe("node_failure");
    const gone = facts([], {
      exit: 1,
      stderr: [
        "Error: thread/resume: thread/resume failed: no rollout found for thread id 01a2427b-0000-7000-8000-000000000000 (code -32600)",
      ],
    });
    expect(classifyCodex(gone)).toMatchObject({ outcome: "lost", resumeFailed: true });
  });

  it("a budget stop is the story's failure of kind budget; a stop by huskies is lost", () => {
    expect(
      classifyCodex(facts([thread], { exit: null, budgetStop: true, stopped: { reason: "budget exhausted", kind: "story_failure" } })),
    ).toMatchObject({ outcome: "story_failure", budget: true });
    expect(classifyCodex(facts([thread], { exit: null, stopped: { reason: "claim lost", kind: "lost" } })).outcome).toBe("lost");
  });
});

describe("gemini runs", () => {
  const init = { type: "init", session_id: "597b6e95-f412-49da-90c1-16ca19971380", model: "gemini-2.5-pro" };
  it("a successful result is done, with the answer and tokens", () => {
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
    expect(c).toMatchObject({
      outcome: "done",
      finalText: "Did the thing.",
      sessionId: init.session_id,
      tokens: { input: 200, output: 40, cached: 0 },
    });
  });

  it("a quota error is the account's, reset after gemini's suggested delay", () => {
    const msg =
      "[API Error: Quota exceeded for quota metric 'Generate Content API requests per minute'\nSuggested retry after 3600s.]\nPlease wait and try again later. To increase your limits, request a quota increase through AI Studio, or switch to another /auth method";
    const result = { type: "result", status: "error", error: { type: "unknown", message: msg }, stats: { total_tokens: 0 } };
    expect(classifyGemini(facts([init, result], { exit: 173 }))).toMatchObject({
      outcome: "node_failure",
      accountTrouble: "limit",
      resetsAt: NOW + 3_600_000,
    });
    expect(geminiLiveAction(result, NOW)?.signal).toMatchObject({ kind: "node-failure", resetsAt: NOW + 3_600_000 });
  });

  it("a rejected or missing key is the account's credentials", () => {
    const bad =
      '[API Error: {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}]';
    expect(classifyGemini(facts([init, { type: "result", status: "error", error: { message: bad } }], { exit: 144 }))).toMatchObject({
      accountTrouble: "credentials",
    });
    const none = facts([], {
      exit: 41,
      stderr: [
        "When using Gemini API, you must specify the GEMINI_API_KEY environment variable.",
        "Update your environment and try again (no reload needed if using .env)!",
      ],
    });
    expect(classifyGemini(none)).toMatchObject({ outcome: "node_failure", accountTrouble: "credentials" });
  });

  it("an unknown session to resume is lost, to start afresh", () => {
    const c = classifyGemini(
      facts([], { exit: 42, stderr: ['Error resuming session: Invalid session identifier "11111111-2222-3333-4444-555555555555".'] }),
    );
    expect(c).toMatchObject({ outcome: "lost", resumeFailed: true });
  });
});
