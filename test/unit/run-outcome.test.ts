import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_FAILURE_EXIT } from "../../src/runtime/agent-runtime.js";
import { liveAction } from "../../src/runtime/claude-signals.js";
import { classifyRun, type RunFacts } from "../../src/runtime/run-outcome.js";
import { PACKAGE_ROOT } from "../support/paths.js";

const ENDED = 1_800_000_000_000;

/** A captured transcript of the real claude 2.1 (scripts/capture-claude-transcripts.mjs) as run facts. */
function transcript(name: string, over: Partial<RunFacts> = {}): RunFacts {
  const facts: RunFacts = { runtime: "claude-code", events: [], stdout: [], stderr: [], exit: null, endedAt: ENDED };
  const events: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (const raw of readFileSync(join(PACKAGE_ROOT, "test", "fixtures", "claude-transcripts", `${name}.jsonl`), "utf8")
    .split("\n")
    .filter(Boolean)) {
    const line = JSON.parse(raw) as { stdout?: string; stderr?: string; exit?: number | null; signal?: string | null; startError?: string };
    if (line.stdout !== undefined) {
      try {
        events.push(JSON.parse(line.stdout));
      } catch {
        stdout.push(line.stdout);
      }
    } else if (line.stderr !== undefined) stderr.push(line.stderr);
    else if ("exit" in line) Object.assign(facts, { exit: line.exit, signal: line.signal ?? undefined });
    else if (line.startError) facts.startError = line.startError;
  }
  return { ...facts, events, stdout, stderr, ...over };
}

/** The transcript as the runtime sees it when it stops the run itself on a live event. */
function stoppedLive(name: string): RunFacts {
  const f = transcript(name);
  for (const [i, e] of f.events.entries()) {
    const action = liveAction(e, { limitPauseUtilization: 0.95, now: ENDED });
    // Killed at once: nothing after this event, SIGTERM's exit.
    if (action?.stop) return { ...f, events: f.events.slice(0, i + 1), exit: 143, stopped: action.stop };
  }
  throw new Error(`${name}: no live stop`);
}

describe("classifying real claude runs", () => {
  it("success is done, with the final text, turns, cost and session", () => {
    const c = classifyRun(transcript("success"));
    expect(c).toMatchObject({
      outcome: "done",
      reason: "done",
      finalText: "Done: said hello.",
      turns: 2,
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(c.costUsd).toBeGreaterThan(0);
    expect(c.error).toBeUndefined();
  });

  it("max turns is the story's failure", () => {
    expect(classifyRun(transcript("max-turns"))).toMatchObject({
      outcome: "story_failure",
      reason: "max turns reached",
      error: "Reached maximum number of turns (1)",
    });
  });

  it("a 429 on the first request that claude does not retry is a node failure with claude's message", () => {
    expect(classifyRun(transcript("first-request-429"))).toMatchObject({
      outcome: "node_failure",
      reason: "rate limited (429)",
      error: "API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit",
    });
  });

  it("the first 429 retry stops the run: node failure, reset from retry-after", () => {
    const c = classifyRun(stoppedLive("first-request-429-retrying"));
    expect(c).toMatchObject({
      outcome: "node_failure",
      reason: "rate limited (429)",
      resetsAt: ENDED + 30_000,
      sessionId: expect.any(String),
    });
  });

  it("a 429 mid-session stops at its first sign; a run claude recovered by itself is done", () => {
    expect(classifyRun(stoppedLive("mid-session-429"))).toMatchObject({
      outcome: "node_failure",
      reason: "rate limited (429)",
      resetsAt: ENDED + 1000,
    });
    expect(classifyRun(transcript("mid-session-429"))).toMatchObject({ outcome: "done", finalText: "Done after the retry." });
  });

  it("a rejected subscription limit is a node failure until its reset", () => {
    const raw = classifyRun(transcript("rate-limit-rejected"));
    expect(raw).toMatchObject({ outcome: "node_failure", reason: "five-hour usage limit reached", resetsAt: 1_900_000_000_000 });
    expect(raw.error).toMatch(/^You've hit your session limit · resets /);
    expect(classifyRun(stoppedLive("rate-limit-rejected"))).toMatchObject({ outcome: "node_failure", resetsAt: 1_900_000_000_000 });
  });

  it("allowed_warning signals near-limit without stopping, and the run is done", () => {
    const f = transcript("rate-limit-warning");
    const actions = f.events.map((e) => liveAction(e, { limitPauseUtilization: 0.95, now: ENDED })).filter(Boolean);
    expect(actions.some((a) => a!.stop)).toBe(false);
    expect(actions.map((a) => a!.signal)).toContainEqual({ kind: "near-limit", utilization: 0.96, resetsAt: 1_900_000_000_000 });
    expect(f.events.map((e) => liveAction(e, { limitPauseUtilization: 0.97, now: ENDED })?.signal?.kind)).not.toContain("near-limit");
    expect(classifyRun(f)).toMatchObject({ outcome: "done" });
  });

  it("not logged in is a node failure with claude's words", () => {
    expect(classifyRun(transcript("not-logged-in"))).toMatchObject({
      outcome: "node_failure",
      reason: "not logged in",
      error: "Not logged in · Please run /login",
    });
  });

  it("an invalid key (401) is a node failure", () => {
    expect(classifyRun(transcript("invalid-key-401"))).toMatchObject({
      outcome: "node_failure",
      reason: "invalid credentials",
      error: "Invalid API key · Fix external API key",
    });
  });

  it("overloaded after claude's own retries is a node failure", () => {
    const c = classifyRun(transcript("overloaded-529"));
    expect(c).toMatchObject({ outcome: "node_failure", reason: "API overloaded (529)" });
    expect(c.error).toMatch(/^API Error: 529 Overloaded/);
  });

  it("a required sandbox that cannot start is a node failure", () => {
    const c = classifyRun(transcript("sandbox-unavailable"));
    expect(c).toMatchObject({ outcome: "node_failure", reason: "the sandbox cannot start on this node" });
    expect(c.error).toMatch(/^Sandbox required but unavailable: .*bwrap/);
  });

  it("a session that cannot be resumed changes nothing: lost, and the caller starts afresh", () => {
    expect(classifyRun(transcript("resume-not-found"))).toMatchObject({
      outcome: "lost",
      resumeFailed: true,
      error: "No conversation found with session ID: 0b8d5d1e-1111-2222-3333-444455556666",
    });
  });

  it("a missing binary is a node failure", () => {
    expect(classifyRun(transcript("binary-missing"))).toMatchObject({ outcome: "node_failure", error: "spawn /nonexistent/claude ENOENT" });
  });

  it("a run huskies stopped as lost is lost, whatever claude printed", () => {
    expect(classifyRun(transcript("not-logged-in", { stopped: { reason: "claim lost", kind: "lost" } }))).toMatchObject({
      outcome: "lost",
      reason: "claim lost",
    });
    expect(classifyRun(transcript("success", { stopped: { reason: "node shutting down", kind: "lost" } })).outcome).toBe("lost");
  });

  it("an inactivity stop without a result is the story's failure", () => {
    const f: RunFacts = {
      runtime: "claude-code",
      events: [],
      stdout: [],
      stderr: [],
      exit: 143,
      endedAt: ENDED,
      stopped: { reason: "no output for 900s (inactivity timeout)", kind: "story_failure" },
    };
    expect(classifyRun(f)).toMatchObject({ outcome: "story_failure", error: "no output for 900s (inactivity timeout)" });
  });
});

describe("classifying command runs", () => {
  const run = (over: Partial<RunFacts>): RunFacts => ({
    runtime: "command",
    events: [],
    stdout: [],
    stderr: [],
    exit: 0,
    endedAt: ENDED,
    ...over,
  });

  it("exit 0 is done, with the tail of stdout as the final text", () => {
    expect(classifyRun(run({ stdout: ["checking", "QA: PASS"] }))).toMatchObject({ outcome: "done", finalText: "checking\nQA: PASS" });
  });

  it(`exit ${NODE_FAILURE_EXIT} is a node failure with the agent's last stderr line`, () => {
    expect(classifyRun(run({ exit: NODE_FAILURE_EXIT, stderr: ["quota exhausted until 14:00"] }))).toMatchObject({
      outcome: "node_failure",
      error: "quota exhausted until 14:00",
    });
  });

  it("any other exit is the story's failure", () => {
    expect(classifyRun(run({ exit: 3, stderr: ["broken"] }))).toMatchObject({
      outcome: "story_failure",
      reason: "exited with code 3",
      error: "exited with code 3: broken",
    });
    expect(classifyRun(run({ exit: null, signal: "SIGKILL" }))).toMatchObject({ outcome: "story_failure", reason: "killed by SIGKILL" });
  });

  it("a command that could not start is a node failure", () => {
    expect(classifyRun(run({ exit: null, startError: "could not start codex: spawn codex ENOENT" }))).toMatchObject({
      outcome: "node_failure",
    });
  });
});
