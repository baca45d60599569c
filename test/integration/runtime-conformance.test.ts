import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSlotSchema, type AgentSlot } from "../../src/config/agents-config.js";
import {
  NODE_FAILURE_EXIT,
  type AgentRuntime,
  type RunningAgent,
  type RunSpec,
  type RuntimeSignal,
} from "../../src/runtime/agent-runtime.js";
import { ClaudeCodeRuntime } from "../../src/runtime/claude-code-runtime.js";
import { CommandRuntime } from "../../src/runtime/command-runtime.js";
import { isGone, treePids } from "../../src/runtime/process-tree.js";
import type { LogEntry } from "../../src/runtime/story-log.js";
import { rateLimitHeaders, ScriptedModelServer } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import { CodexRuntime } from "../../src/runtime/codex-runtime.js";
import { GeminiRuntime } from "../../src/runtime/gemini-runtime.js";
import { CLI_BIN, ScriptedGeminiServer, ScriptedResponsesServer, type VendorScript } from "../support/vendor-servers.js";
import { Confinement } from "../../src/confinement/confine.js";

interface Scenario {
  slot: Partial<AgentSlot>;
  prompt?: string;
  env?: Record<string, string>;
  /** A node's confinement (its credential proxy); unset: the shared one runtimes use outside a node. */
  confinement?: Confinement;
}

/**
 * What every runtime must provide for the suite: a run that succeeds (and shows the prompt in its
 * final text), one that fails on the work, one that says the node cannot work, and one that hangs
 * after printing a line once its process tree has at least two processes.
 */
interface Scenarios {
  ok: Scenario;
  fail: Scenario;
  nodeFailure: Scenario;
  hang: Scenario;
}

/**
 * The same acceptance tests for every runtime (like automerge-repo's storage adapter suite).
 * Trees are snapshotted synchronously in `onLog`: a line has just re-armed the inactivity timer,
 * so no kill can have happened yet, and the hang scenarios print only once their tree is complete.
 * Nothing here depends on how fast a loaded machine starts a process.
 */
function runtimeConformance(name: string, runtime: AgentRuntime, scenarios: () => Scenarios) {
  describe(`${name} runtime conformance`, () => {
    let base: string;
    beforeAll(() => {
      base = mkdtempSync(join(tmpdir(), `huskies-${name}-`));
    });
    afterAll(() => rmSync(base, { recursive: true, force: true }));

    const start = (s: Scenario, inactivityMs = 60_000) => {
      const logs: Omit<LogEntry, "t">[] = [];
      const signals: RuntimeSignal[] = [];
      const seen = new Set<number>();
      let largestTree = 0;
      const cwd = mkdtempSync(join(base, "wt-"));
      const promptFile = `${cwd}.prompt.md`;
      const prompt = s.prompt ?? "Do the thing.";
      writeFileSync(promptFile, prompt);
      const slot = agentSlotSchema.parse({ name: "slot-1", runtime: runtime.name, ...s.slot });
      // onLog needs the pid of the run being started; lines only arrive after start() returned.
      const live: { run?: RunningAgent } = {};
      const spec: RunSpec = {
        storyId: "1_story_conformance",
        slot,
        cwd,
        prompt,
        storyMarkdown: "# Do the thing",
        promptFile,
        baseBranch: "main",
        inactivityMs,
        env: s.env,
        confinement: s.confinement,
        onLog: (e) => {
          logs.push(e);
          const tree = live.run ? treePids(live.run.pid) : [];
          tree.forEach((p) => seen.add(p));
          largestTree = Math.max(largestTree, tree.length);
        },
        onSignal: (sig) => signals.push(sig),
      };
      const run = (live.run = runtime.start(spec));
      return { run, logs, signals, seen, largestTree: () => largestTree };
    };

    it("runs to success, logs its output and reads the prompt", async () => {
      const { run, logs } = start(scenarios().ok);
      const result = await run.done;
      expect(result).toMatchObject({ ok: true, outcome: "done", exit: 0 });
      expect(result.finalText).toMatch(/the thing/);
      expect(logs.length).toBeGreaterThan(0);
    });

    it("reports a failure on the work as the story's, with a reason", async () => {
      const { run } = start(scenarios().fail);
      const result = await run.done;
      expect(result).toMatchObject({ ok: false, outcome: "story_failure" });
      expect(result.error).toBeTruthy();
    });

    it("reports that this node cannot work as a node failure", async () => {
      const { run } = start(scenarios().nodeFailure);
      const result = await run.done;
      expect(result).toMatchObject({ ok: false, outcome: "node_failure" });
      expect(result.error).toBeTruthy();
    });

    it("a binary that is not there is a node failure, not the story's", async () => {
      const { run } = start({
        ...scenarios().ok,
        slot: { ...scenarios().ok.slot, command: "/nonexistent/agent", claude_path: "/nonexistent/claude", path: "/nonexistent/cli" },
      });
      const result = await run.done;
      expect(result).toMatchObject({ ok: false, outcome: "node_failure" });
      expect(result.error).toMatch(/ENOENT/);
    });

    it("stop() kills the whole process tree, resolves only when it is gone, and the run is lost", async () => {
      const { run } = start(scenarios().hang);
      const pids = await waitFor(
        () => {
          const p = treePids(run.pid);
          return p.length >= 2 ? p : undefined;
        },
        "the tree to grow",
        60_000,
      );
      await run.stop("test says stop");
      expect(pids.filter((p) => !isGone(p))).toEqual([]);
      const result = await run.done;
      expect(result).toMatchObject({ ok: false, outcome: "lost", reason: "test says stop", error: "test says stop" });
    });

    it("kills a run that stays silent past the inactivity timeout, with its whole tree", async () => {
      const { run, seen, largestTree } = start(scenarios().hang, 1500);
      const result = await run.done;
      expect(result).toMatchObject({ ok: false, outcome: "story_failure" });
      expect(result.error).toMatch(/inactivity timeout/);
      expect(largestTree()).toBeGreaterThanOrEqual(2);
      expect([...seen].filter((p) => !isGone(p))).toEqual([]);
    });
  });
}

runtimeConformance("command", new CommandRuntime(), () => ({
  ok: { slot: { command: "sh", args: ["-c", 'echo working on $HUSKIES_STORY_ID; cat "$HUSKIES_PROMPT_FILE"'] } },
  fail: { slot: { command: "sh", args: ["-c", "echo broken >&2; exit 3"] } },
  nodeFailure: { slot: { command: "sh", args: ["-c", `echo 'not logged in' >&2; exit ${NODE_FAILURE_EXIT}`] } },
  // Both children are forked before the line is printed; then silence until killed.
  hang: { slot: { command: "sh", args: ["-c", "sleep 600 & sleep 600 & echo started; wait"] } },
}));

let model: ScriptedModelServer;
let configDir: string;
const hold = new Promise<never>(() => undefined);
let resumeLimited = false;
const RESET_SECS = Math.floor(Date.now() / 1000) + 3600;
beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
  model = await new ScriptedModelServer(({ prompt, step }) => {
    // A background Bash task (claude prints `task_started` once it runs), then a model that never answers.
    if (prompt.includes("HANG"))
      return step === 0 ? { tool: { name: "Bash", input: { command: "sleep 600", description: "wait", run_in_background: true } } } : hold;
    if (prompt.includes("LOOP")) return { tool: { name: "Bash", input: { command: "true", description: "loop" } } };
    if (prompt.includes("RESUME")) {
      // Step one runs a tool; the next call is rate limited once (the run is stopped there), then answered.
      if (step === 0) return { tool: { name: "Bash", input: { command: "echo output-of-step-one", description: "step one" } } };
      if (!resumeLimited) {
        resumeLimited = true;
        return { error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: { "retry-after": "5" } } };
      }
      return { text: "Continued where I left off." };
    }
    // Subscription logins: unified rate-limit headers make claude emit rate_limit_event.
    if (prompt.includes("WARN"))
      return { text: "Done, nearly out of quota.", headers: rateLimitHeaders("allowed_warning", RESET_SECS, { utilization: 0.97 }) };
    if (prompt.includes("REJECT"))
      return {
        error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: rateLimitHeaders("rejected", RESET_SECS) },
      };
    if (prompt.includes("LIMIT"))
      return { error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: { "retry-after": "30" } } };
    return { text: prompt.includes("Do the thing.") ? "Did the thing." : "No prompt reached me." };
  }).start();
});
afterAll(async () => {
  await model.close();
  rmSync(configDir, { recursive: true, force: true });
});

runtimeConformance("claude-code", new ClaudeCodeRuntime(), () => ({
  ok: { slot: { max_turns: 3 }, env: model.env(configDir) },
  // One turn allowed, but the model keeps calling tools: claude ends with an error result.
  fail: { slot: { max_turns: 1 }, prompt: "LOOP", env: model.env(configDir) },
  // A 429 with retry-after: claude would retry for minutes; the runtime stops at the first retry.
  nodeFailure: { slot: { max_turns: 3 }, prompt: "LIMIT", env: model.env(configDir) },
  hang: { slot: { max_turns: 3 }, prompt: "HANG", env: model.env(configDir) },
}));

describe("claude-code specifics", () => {
  const startIn = (cwd: string, prompt: string, more: Partial<RunSpec> = {}) =>
    new ClaudeCodeRuntime().start({
      storyId: "1_story_specific",
      slot: agentSlotSchema.parse({ name: "c", max_turns: 5 }),
      cwd,
      prompt,
      storyMarkdown: "",
      promptFile: join(cwd, "..", "p.md"),
      baseBranch: "main",
      inactivityMs: 60_000,
      env: model.env(configDir),
      onLog: () => undefined,
      ...more,
    });

  it("a run stopped at a limit is continued with --resume: the model gets the whole earlier conversation", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "huskies-claude-resume-"));
    try {
      const first = await startIn(cwd, "RESUME the work").done;
      expect(first).toMatchObject({ outcome: "node_failure", sessionId: expect.any(String) });
      const before = model.requests.length;
      const second = await startIn(cwd, "Continue where you left off.", { resumeSessionId: first.sessionId }).done;
      expect(second).toMatchObject({ outcome: "done", finalText: "Continued where I left off." });
      const resumed = model.requests.slice(before).map((r) => JSON.stringify(r.body.messages));
      expect(resumed[0]).toContain("RESUME the work");
      expect(resumed[0]).toContain("output-of-step-one");
      expect(resumed[0]).toContain("Continue where you left off.");
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("stops at the first 429 retry with the reset time, signals it, and reports the session", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "huskies-claude-limit-"));
    const signals: RuntimeSignal[] = [];
    try {
      const before = Date.now();
      const result = await startIn(cwd, "LIMIT", { onSignal: (s) => signals.push(s) }).done;
      expect(result).toMatchObject({ outcome: "node_failure", reason: "rate limited (429)", sessionId: expect.any(String) });
      expect(result.resetsAt).toBeGreaterThanOrEqual(before + 30_000);
      expect(result.durationMs).toBeLessThan(30_000);
      expect(signals.map((s) => s.kind)).toEqual(["session", "node-failure"]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("a subscription near its limit signals near-limit and finishes; a rejected one stops with the reset time", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "huskies-claude-subscription-"));
    const { ANTHROPIC_API_KEY: _key, ...base } = model.env(configDir);
    const env = { ...base, CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-scripted" };
    try {
      const warned: RuntimeSignal[] = [];
      const ok = await startIn(cwd, "WARN", { env, onSignal: (s) => warned.push(s) }).done;
      expect(ok).toMatchObject({ outcome: "done", finalText: "Done, nearly out of quota." });
      expect(warned).toContainEqual({ kind: "near-limit", utilization: 0.97, resetsAt: RESET_SECS * 1000 });
      const quiet: RuntimeSignal[] = [];
      await startIn(cwd, "WARN", { env, limitPauseUtilization: 0.98, onSignal: (s) => quiet.push(s) }).done;
      expect(quiet.map((s) => s.kind)).not.toContain("near-limit");

      const rejected = await startIn(cwd, "REJECT", { env }).done;
      expect(rejected).toMatchObject({ outcome: "node_failure", reason: "five-hour usage limit reached", resetsAt: RESET_SECS * 1000 });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

/**
 * codex and gemini against scripted servers of their vendors' APIs. The same script serves both:
 * LOOP keeps calling the shell (gemini stops at its turn cap; codex has none, so its failed turn
 * is a `response.failed`), LIMIT is a 429 usage limit with a reset, HANG never answers.
 */
const vendorScript =
  (vendor: "codex" | "gemini"): VendorScript =>
  ({ prompt, step }) => {
    if (prompt.includes("HANG")) return hold;
    if (prompt.includes("LOOP"))
      return vendor === "codex"
        ? { failed: { code: "invalid_prompt", message: "the model could not continue" } }
        : { shell: `echo step ${step}` };
    if (prompt.includes("LIMIT"))
      return vendor === "codex"
        ? {
            error: {
              status: 429,
              body: { error: { type: "usage_limit_reached", message: "The usage limit has been reached", resets_in_seconds: 3600 } },
            },
          }
        : {
            error: {
              status: 429,
              body: {
                error: {
                  code: 429,
                  message: "Quota exceeded for quota metric 'Generate Content API requests per minute'",
                  status: "RESOURCE_EXHAUSTED",
                  details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "3600s" }],
                },
              },
            },
          };
    return { text: prompt.includes("Do the thing.") ? "Did the thing." : "No prompt reached me." };
  };

let codexServer: ScriptedResponsesServer;
let geminiServer: ScriptedGeminiServer;
let cliState: string;
/** As on a node: the CLIs run under bwrap and reach their API through the node's credential proxy. */
let confinement: Confinement;
beforeAll(async () => {
  cliState = mkdtempSync(join(tmpdir(), "huskies-cli-state-"));
  codexServer = await new ScriptedResponsesServer(vendorScript("codex")).start();
  geminiServer = await new ScriptedGeminiServer(vendorScript("gemini")).start();
  confinement = await new Confinement({ env: { ...codexServer.env(join(cliState, "codex")), ...geminiServer.env() } }).start();
});
afterAll(async () => {
  await confinement?.close();
  await codexServer.close();
  await geminiServer.close();
  rmSync(cliState, { recursive: true, force: true });
});

runtimeConformance("codex", new CodexRuntime(), () => {
  const env = codexServer.env(join(cliState, "codex"));
  const slot = { path: join(CLI_BIN, "codex") };
  return {
    ok: { slot, env, confinement },
    fail: { slot, prompt: "LOOP", env, confinement },
    nodeFailure: { slot, prompt: "LIMIT", env, confinement },
    hang: { slot, prompt: "HANG", env, confinement },
  };
});

runtimeConformance("gemini", new GeminiRuntime(), () => {
  const env = geminiServer.env();
  const slot = { path: join(CLI_BIN, "gemini"), max_turns: 2 };
  return {
    ok: { slot, env, confinement },
    fail: { slot, prompt: "LOOP", env, confinement },
    nodeFailure: { slot, prompt: "LIMIT", env, confinement },
    hang: { slot, prompt: "HANG", env, confinement },
  };
});
