import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSlotSchema } from "../../src/config/agents-config.js";
import type { AgentRuntime, RunSpec, RuntimeSignal } from "../../src/runtime/agent-runtime.js";
import { CodexRuntime } from "../../src/runtime/codex-runtime.js";
import { GeminiRuntime } from "../../src/runtime/gemini-runtime.js";
import { buildTimeline } from "../../src/runtime/log-timeline.js";
import type { LogEntry } from "../../src/runtime/story-log.js";
import { CLI_BIN, ScriptedGeminiServer, ScriptedResponsesServer, type VendorScript } from "../support/vendor-servers.js";
import { Confinement } from "../../src/confinement/confine.js";
import { PLACEHOLDER_KEY } from "../../src/confinement/credential-proxy.js";
import { waitFor } from "../support/wait-for.js";

/**
 * What codex and gemini do on a real story layout (a project with `.huskies/`, a linked worktree on
 * a feature branch), started as a node starts them (through a started `Confinement`: bwrap, the
 * git view, the credential proxy): commit through their own shell tool, stop at a usage limit with
 * its reset time as the account's trouble, fail on a missing key as the account's trouble, resume
 * the same session after a stop, stay inside the worktree, never hold the real key, and stop at
 * their budget.
 */
const hold = new Promise<never>(() => undefined);
const RESUMED = new Set<string>();

const script: VendorScript = ({ prompt, step }) => {
  if (prompt.includes("COMMIT"))
    return step === 0
      ? { shell: "echo hello > hello.txt && git add hello.txt && git commit -qm 'Add hello' && git log --oneline -1" }
      : { text: "Committed hello.txt." };
  if (prompt.includes("ESCAPE"))
    return step === 0
      ? {
          shell: 'echo pwned > ../../../outside.txt; cat ../../node.key; echo "key: $?"; echo pwned > /tmp/huskies-escape-probe; echo done',
        }
      : { text: "Tried." };
  if (prompt.includes("RESUME")) {
    if (step === 0) return { shell: "echo output-of-step-one" };
    // The first run is stopped while the model "thinks"; the resumed one is answered.
    const vendor = prompt.includes("RESUME codex") ? "codex" : "gemini";
    if (!RESUMED.has(vendor)) {
      RESUMED.add(vendor);
      return hold;
    }
    return { text: "Continued where I left off." };
  }
  if (prompt.includes("SPEND")) return { shell: `echo spending ${step}`, usage: { input: 2_000_000, output: 100_000 } };
  if (prompt.includes("LIMIT")) return limitReply;
  if (prompt.includes("SHOWKEY")) return step === 0 ? { shell: 'echo "key=[${OPENAI_API_KEY}${GEMINI_API_KEY}]"' } : { text: "Shown." };
  return { text: "ok" };
};
let limitReply: Awaited<ReturnType<VendorScript>>;

let root: string;
let counter = 0;
let confinement: Confinement;
const codex = { runtime: new CodexRuntime() as AgentRuntime, server: undefined as unknown as ScriptedResponsesServer };
const gemini = { runtime: new GeminiRuntime() as AgentRuntime, server: undefined as unknown as ScriptedGeminiServer };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "huskies-cli-story-"));
  execFileSync("git", ["init", "-q", "-b", "main", root]);
  for (const [k, v] of [
    ["user.name", "huskies test"],
    ["user.email", "test@huskies.invalid"],
  ])
    execFileSync("git", ["-C", root, "config", k!, v!]);
  writeFileSync(join(root, "README.md"), "# project\n");
  execFileSync("git", ["-C", root, "add", "-A"]);
  execFileSync("git", ["-C", root, "commit", "-qm", "initial"]);
  mkdirSync(join(root, ".huskies", "worktrees"), { recursive: true });
  writeFileSync(join(root, ".huskies", "node.key"), "SECRET-NODE-KEY");
  codex.server = await new ScriptedResponsesServer(script).start();
  gemini.server = await new ScriptedGeminiServer(script).start();
  // The node's environment holds the real keys; the CLIs get placeholders and the proxy's address.
  confinement = await new Confinement({ root, env: { ...codex.server.env(""), ...gemini.server.env() } }).start();
});
afterAll(async () => {
  await confinement?.close();
  await codex.server.close();
  await gemini.server.close();
  rmSync(root, { recursive: true, force: true });
});

function worktree(): { id: string; cwd: string } {
  const id = `${++counter}_story_cli`;
  const cwd = join(root, ".huskies", "worktrees", id);
  execFileSync("git", ["-C", root, "worktree", "add", "-q", "-b", `feature/story-${id}`, cwd, "main"]);
  return { id, cwd };
}

for (const [name, kit] of [
  ["codex", codex],
  ["gemini", gemini],
] as const) {
  describe(`${name} on a story`, () => {
    const env = () => (name === "codex" ? codex.server.env(join(root, ".huskies", "cli", "codex")) : gemini.server.env());
    const start = (prompt: string, cwd: string, id: string, more: Partial<RunSpec> = {}) => {
      const logs: Omit<LogEntry, "t">[] = [];
      const signals: RuntimeSignal[] = [];
      const run = kit.runtime.start({
        storyId: id,
        slot: agentSlotSchema.parse({ name: `${name}-1`, runtime: name, path: join(CLI_BIN, name), max_turns: 5 }),
        cwd,
        projectRoot: root,
        prompt,
        storyMarkdown: "",
        promptFile: join(root, ".huskies", `${id}.prompt.md`),
        baseBranch: "main",
        inactivityMs: 60_000,
        env: env(),
        confinement,
        ownBranch: `feature/story-${id}`,
        onLog: (e) => logs.push(e),
        onSignal: (s) => signals.push(s),
        ...more,
      });
      return { run, logs, signals };
    };

    it("commits through its shell tool; the timeline shows the command; tokens and cost are counted", async () => {
      const { id, cwd } = worktree();
      const { run, logs } = start("COMMIT the greeting", cwd, id);
      const result = await run.done;
      expect(result).toMatchObject({ outcome: "done", finalText: "Committed hello.txt.", sessionId: expect.any(String) });
      expect(result.tokens!.output).toBeGreaterThan(0);
      expect(result.costUsd).toBeGreaterThan(0);
      expect(execFileSync("git", ["-C", cwd, "log", "--oneline", "-1"], { encoding: "utf8" })).toContain("Add hello");
      const timeline = buildTimeline(logs.map((l) => ({ t: 0, ...l })));
      expect(timeline).toContainEqual(expect.objectContaining({ kind: "tool", input: expect.stringContaining("git commit") }));
      expect(timeline).toContainEqual(expect.objectContaining({ kind: "result", ok: true }));
    });

    it("a 429 usage limit is the account's trouble, signalled at once with its reset time", async () => {
      const { id, cwd } = worktree();
      const resetsAt = Math.floor(Date.now() / 60_000) * 60_000 + 2 * 3600_000;
      limitReply =
        name === "codex"
          ? { error: { status: 429, body: { error: { type: "usage_limit_reached", message: "limit", resets_at: resetsAt / 1000 } } } }
          : {
              error: {
                status: 429,
                body: {
                  error: {
                    code: 429,
                    message: "Quota exceeded",
                    status: "RESOURCE_EXHAUSTED",
                    details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7200s" }],
                  },
                },
              },
            };
      const { run, signals } = start("LIMIT", cwd, id);
      const result = await run.done;
      expect(result).toMatchObject({ outcome: "node_failure", accountTrouble: "limit" });
      expect(Math.abs(result.resetsAt! - resetsAt)).toBeLessThan(120_000);
      expect(signals).toContainEqual(expect.objectContaining({ kind: "node-failure", accountTrouble: "limit" }));
    });

    it("no API key is the account's trouble (credentials), not the story's", async () => {
      const { id, cwd } = worktree();
      const { OPENAI_API_KEY: _o, GEMINI_API_KEY: _g, ...noKey } = env() as Record<string, string>;
      const { run, logs } = start("hello", cwd, id, { env: noKey });
      const result = await run.done;
      expect(result).toMatchObject({ outcome: "node_failure", accountTrouble: "credentials" });
      expect(`${result.error}\n${JSON.stringify(logs)}`).toMatch(/OPENAI_API_KEY|GEMINI_API_KEY/);
    });

    it("a stopped run is resumed in the same session: the model gets the earlier conversation", async () => {
      const { id, cwd } = worktree();
      const first = start(`RESUME ${name} work`, cwd, id);
      const ran = (l: Omit<LogEntry, "t">) => {
        const e = l.event as { type?: string; item?: { aggregated_output?: string }; output?: string } | undefined;
        return !!(
          e?.item?.aggregated_output?.includes("output-of-step-one") ||
          (e?.type === "tool_result" && e.output?.includes("output-of-step-one"))
        );
      };
      await waitFor(() => first.logs.some(ran) || undefined, "step one's output", 60_000);
      // Stop while the model is "thinking" about step two (its request is held).
      await waitFor(() => RESUMED.has(name) || undefined, "the request after step one", 60_000);
      const sessionId = first.signals.find((s) => s.kind === "session")!;
      await first.run.stop("node shutting down");
      expect(await first.run.done).toMatchObject({ outcome: "lost" });
      const server = name === "codex" ? codex.server : gemini.server;
      const before = server.requests.length;
      const second = await start("Continue where you left off.", cwd, id, {
        resumeSessionId: (sessionId as { sessionId: string }).sessionId,
      }).run.done;
      expect(second, JSON.stringify(second)).toMatchObject({ outcome: "done", finalText: "Continued where I left off." });
      const resumed = JSON.stringify(server.requests.slice(before).map((r) => r.body));
      expect(resumed).toContain(`RESUME ${name} work`);
      expect(resumed).toContain("output-of-step-one");
    });

    it("is confined: nothing outside the worktree is written and .huskies is hidden", async () => {
      const { id, cwd } = worktree();
      rmSync("/tmp/huskies-escape-probe", { force: true });
      const { run, logs } = start("ESCAPE", cwd, id);
      expect(await run.done).toMatchObject({ outcome: "done" });
      expect(JSON.stringify(logs)).toContain("done");
      expect(existsSync(join(root, "outside.txt"))).toBe(false);
      expect(existsSync("/tmp/huskies-escape-probe")).toBe(false);
      expect(JSON.stringify(logs)).not.toContain("SECRET-NODE-KEY");
      expect(readFileSync(join(root, ".huskies", "node.key"), "utf8")).toBe("SECRET-NODE-KEY");
    });

    it("holds a placeholder key, never the real one; its API gets the real key from the node's proxy", async () => {
      const { id, cwd } = worktree();
      const server = name === "codex" ? codex.server : gemini.server;
      const before = server.requests.length;
      const { run, logs } = start("SHOWKEY", cwd, id);
      expect(await run.done).toMatchObject({ outcome: "done" });
      const seen = JSON.stringify(logs);
      const real = name === "codex" ? "sk-scripted-responses" : "scripted-gemini-key";
      expect(seen).not.toContain(real);
      const requests = server.requests.slice(before);
      expect(requests.length).toBeGreaterThan(0);
      for (const r of requests) {
        const sent = name === "codex" ? r.headers.authorization : r.headers["x-goog-api-key"];
        expect(sent).toBe(name === "codex" ? `Bearer ${real}` : real);
        expect(JSON.stringify(r.headers)).not.toContain(PLACEHOLDER_KEY);
      }
    });

    it("stops at its budget from the session's token counts and reports it as budget", async () => {
      const { id, cwd } = worktree();
      const spend: number[] = [];
      const { run } = start("SPEND freely", cwd, id, { maxBudgetUsd: 2, onSignal: (s) => s.kind === "spend" && spend.push(s.costUsd) });
      const result = await run.done;
      expect(result).toMatchObject({ outcome: "story_failure", budget: true });
      expect(result.reason).toMatch(/budget/);
      expect(result.costUsd ?? spend.at(-1)).toBeGreaterThan(2);
    });
  });
}
