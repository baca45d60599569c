import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSlotSchema, type AgentSlot } from "../../src/config/agents-config.js";
import type { AgentRuntime, RunSpec } from "../../src/runtime/agent-runtime.js";
import { ClaudeCodeRuntime } from "../../src/runtime/claude-code-runtime.js";
import { CommandRuntime } from "../../src/runtime/command-runtime.js";
import { isGone, treePids } from "../../src/runtime/process-tree.js";
import type { LogEntry } from "../../src/runtime/story-log.js";
import { ScriptedModelServer } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";

interface Scenario {
  slot: Partial<AgentSlot>;
  prompt?: string;
  env?: Record<string, string>;
}

/**
 * The same acceptance tests for every runtime (like automerge-repo's storage adapter suite):
 * a run that succeeds and logs, one that fails, one that hangs and must be killed with its
 * whole tree, and one that goes silent past the inactivity timeout.
 */
function runtimeConformance(name: string, runtime: AgentRuntime, scenarios: () => { ok: Scenario; fail: Scenario; hang: Scenario }) {
  describe(`${name} runtime conformance`, () => {
    let cwd: string;
    beforeAll(() => { cwd = mkdtempSync(join(tmpdir(), `huskies-${name}-`)); });
    afterAll(() => rmSync(cwd, { recursive: true, force: true }));

    const start = (s: Scenario, inactivityMs = 60_000) => {
      const logs: Omit<LogEntry, "t">[] = [];
      const slot = agentSlotSchema.parse({ name: "slot-1", runtime: runtime.name, ...s.slot });
      const spec: RunSpec = {
        storyId: "1_story_conformance", slot, cwd, prompt: s.prompt ?? "Do the thing.", storyMarkdown: "# Do the thing", promptFile: join(cwd, "..", "prompt.md"),
        baseBranch: "main", inactivityMs, env: s.env, onLog: (e) => logs.push(e),
      };
      return { run: runtime.start(spec), logs };
    };

    it("runs to success and logs its output", async () => {
      const { run, logs } = start(scenarios().ok);
      const result = await run.done;
      expect(result).toMatchObject({ ok: true, exit: 0 });
      expect(logs.length).toBeGreaterThan(0);
    });

    it("reports a failure with a reason", async () => {
      const { run } = start(scenarios().fail);
      const result = await run.done;
      expect(result.ok).toBe(false);
      expect(result.error).toBeTruthy();
    });

    it("stop() kills the whole process tree and resolves only when it is gone", async () => {
      const { run } = start(scenarios().hang);
      const pids = await waitFor(() => { const p = treePids(run.pid); return p.length >= 2 ? p : undefined; }, "the tree to grow");
      await run.stop("test says stop");
      expect(pids.filter((p) => !isGone(p))).toEqual([]);
      const result = await run.done;
      expect(result).toMatchObject({ ok: false, error: "test says stop" });
    });

    it("kills a run that stays silent past the inactivity timeout", async () => {
      const { run } = start(scenarios().hang, 1500);
      const pids = await waitFor(() => { const p = treePids(run.pid); return p.length >= 2 ? p : undefined; }, "the tree to grow");
      const result = await run.done;
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(/inactivity timeout/);
      expect(pids.filter((p) => !isGone(p))).toEqual([]);
    });
  });
}

runtimeConformance("command", new CommandRuntime(), () => ({
  ok: { slot: { command: "sh", args: ["-c", "echo working on $HUSKIES_STORY_ID"] } },
  fail: { slot: { command: "sh", args: ["-c", "echo broken >&2; exit 3"] } },
  // Output first, then silence: a background child plus a foreground one, both must die.
  hang: { slot: { command: "sh", args: ["-c", "echo started; sleep 600 & sleep 600"] } },
}));

let model: ScriptedModelServer;
let configDir: string;
const hold = new Promise<never>(() => undefined);
beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
  model = await new ScriptedModelServer(({ prompt, step }) => {
    if (prompt.includes("HANG")) return hold; // the model never answers: claude waits, silently
    if (prompt.includes("LOOP")) return { tool: { name: "Bash", input: { command: "true", description: "loop" } } };
    return step === 0 ? { text: "Nothing to do." } : { text: "ok" };
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
  hang: { slot: { max_turns: 3 }, prompt: "HANG", env: model.env(configDir) },
}));
