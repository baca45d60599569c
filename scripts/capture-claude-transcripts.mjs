#!/usr/bin/env node
// Regenerates test/fixtures/claude-transcripts/*.jsonl: what the real `claude` binary prints
// (stream-json stdout, stderr, exit) in each situation huskies must classify, run offline against
// the scripted model server. Needs `npm run build:server` first (it imports the compiled server).
//
//   node scripts/capture-claude-transcripts.mjs [SCENARIO...]
//
// Each fixture line is one of: {"meta": …} (first), {"stdout": LINE}, {"stderr": LINE},
// {"exit": CODE, "signal": SIG} or {"startError": MESSAGE} (last). Events are trimmed to what
// classification reads (the init event's tool and command lists, token usage are dropped).
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { clearTimeout, setTimeout } from "node:timers";
import { fileURLToPath } from "node:url";
import { ScriptedModelServer, rateLimitHeaders } from "../dist/src/demo/scripted-model-server.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLAUDE = join(root, "node_modules", ".bin", "claude");
const OUT = join(root, "test", "fixtures", "claude-transcripts");
const RESET = 1_900_000_000; // a fixed future reset (epoch seconds), so fixtures do not churn
const bash = (command) => ({ tool: { name: "Bash", input: { command, description: "run" } } });
const limited = (headers = {}) => ({
  error: { status: 429, type: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit", headers },
});

/** name → { script, turns, env (added), unset (removed), stopOn (kill like the runtime does), why } */
const SCENARIOS = {
  success: {
    why: "a Bash call, then a final text",
    script: ({ step }) => (step === 0 ? bash("echo hello") : { text: "Done: said hello." }),
  },
  "max-turns": { why: "max_turns 1 while the model keeps calling tools", turns: 1, script: () => bash("true") },
  "first-request-429": {
    why: "429 on the first request that claude does not retry (x-should-retry: false): it ends at once",
    script: () => limited({ "retry-after": "30", "x-should-retry": "false" }),
  },
  "first-request-429-retrying": {
    why: "429 with retry-after on the first request with an API key: claude emits api_retry and would retry for minutes; killed at the first api_retry as the runtime does",
    script: () => limited({ "retry-after": "30" }),
    stopOn: (e) => e.type === "system" && e.subtype === "api_retry",
  },
  "mid-session-429": {
    why: "a tool call, then 429 with retry-after 1 once; claude emits api_retry and succeeds on its retry",
    script: (() => {
      let failed = false;
      return ({ step }) => {
        if (step === 0) return bash("echo working");
        if (!failed) {
          failed = true;
          return limited({ "retry-after": "1" });
        }
        return { text: "Done after the retry." };
      };
    })(),
  },
  "rate-limit-rejected": {
    why: "subscription login (OAuth token): 429 with unified status rejected; claude emits rate_limit_event and stops",
    oauth: true,
    script: () => ({
      error: { status: 429, type: "rate_limit_error", message: "rate limited", headers: rateLimitHeaders("rejected", RESET) },
    }),
  },
  "rate-limit-warning": {
    why: "subscription login: success with unified status allowed_warning at 96% of the five-hour limit",
    oauth: true,
    script: () => ({ text: "Done.", headers: rateLimitHeaders("allowed_warning", RESET, { utilization: 0.96 }) }),
  },
  "not-logged-in": { why: "no API key, empty CLAUDE_CONFIG_DIR", unset: ["ANTHROPIC_API_KEY"], script: () => ({ text: "unreachable" }) },
  "invalid-key-401": {
    why: "401 authentication_error; CLAUDE_CODE_MAX_RETRIES=0 so claude gives up at once",
    env: { CLAUDE_CODE_MAX_RETRIES: "0" },
    script: () => ({ error: { status: 401, type: "authentication_error", message: "invalid x-api-key" } }),
  },
  "overloaded-529": {
    why: "529 overloaded_error on every request; CLAUDE_CODE_MAX_RETRIES=2 lowers claude's own retries",
    env: { CLAUDE_CODE_MAX_RETRIES: "2" },
    script: () => ({ error: { status: 529, type: "overloaded_error", message: "Overloaded" } }),
  },
  "sandbox-unavailable": {
    why: "sandbox required (failIfUnavailable) on a PATH without bwrap and socat: claude refuses to start",
    bareBin: true,
    args: ["--settings", JSON.stringify({ sandbox: { enabled: true, failIfUnavailable: true, allowUnsandboxedCommands: false } })],
    script: () => bash("echo unreachable"),
  },
  "resume-not-found": {
    why: "--resume with a session id this config dir does not have: claude refuses before any request",
    args: ["--resume", "0b8d5d1e-1111-2222-3333-444455556666"],
    script: () => ({ text: "unreachable" }),
  },
  "binary-missing": { why: "the configured claude does not exist", binary: "/nonexistent/claude", script: () => ({ text: "unreachable" }) },
};

function trim(event) {
  if (event.type === "system" && event.subtype === "init") {
    const { type, subtype, session_id, model, permissionMode, apiKeySource, claude_code_version } = event;
    return { type, subtype, cwd: "<cwd>", session_id, model, permissionMode, apiKeySource, claude_code_version };
  }
  const out = { ...event };
  delete out.usage;
  delete out.modelUsage;
  delete out.uuid;
  if (out.message && typeof out.message === "object") out.message = { ...out.message, usage: undefined, context_management: undefined };
  if (out.type === "system" && typeof out.cwd === "string") out.cwd = "<cwd>";
  return JSON.parse(JSON.stringify(out));
}

async function capture(name, s) {
  const model = await new ScriptedModelServer(s.script).start();
  const cwd = mkdtempSync(join(tmpdir(), "huskies-capture-"));
  const configDir = join(cwd, ".claude-config");
  mkdirSync(configDir);
  const env = { PATH: process.env.PATH, HOME: cwd, ...model.env(configDir), ...s.env };
  for (const k of s.unset ?? []) delete env[k];
  if (s.bareBin) {
    // A PATH with only what claude and its Bash tool need: no bwrap, no socat.
    const bin = join(cwd, "bin");
    mkdirSync(bin);
    for (const tool of ["sh", "bash", "git", "env"])
      symlinkSync(execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(bin, tool));
    env.PATH = bin;
  }
  if (s.oauth) {
    delete env.ANTHROPIC_API_KEY;
    env.CLAUDE_CODE_OAUTH_TOKEN = "sk-ant-oat01-scripted";
  }
  const args = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--model",
    "claude-sonnet-4-5",
    "--max-turns",
    String(s.turns ?? 3),
    "--permission-mode",
    "acceptEdits",
    ...(s.args ?? []),
    "--allowedTools",
    "Bash",
  ];
  const lines = [
    {
      meta: {
        scenario: name,
        why: s.why,
        claude: execFileSync(CLAUDE, ["--version"], { encoding: "utf8" }).trim(),
        env: Object.keys(env).sort(),
        args,
      },
    },
  ];
  const child = spawn(s.binary ?? CLAUDE, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  const ended = new Promise((resolve) => {
    child.once("error", (err) => resolve({ startError: `spawn ${s.binary ?? CLAUDE} ${err.code}` }));
    child.once("close", (code, signal) => resolve({ exit: code, signal }));
  });
  child.stdin.on("error", () => undefined);
  child.stdin.end("Say hello.");
  if (child.stdout) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        lines.push({ stdout: line });
        return;
      }
      lines.push({ stdout: JSON.stringify(trim(event)) });
      if (s.stopOn?.(event)) child.kill("SIGTERM");
    });
  }
  if (child.stderr) createInterface({ input: child.stderr }).on("line", (line) => lines.push({ stderr: line }));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  lines.push(await ended);
  clearTimeout(timer);
  await model.close();
  rmSync(cwd, { recursive: true, force: true });
  writeFileSync(join(OUT, `${name}.jsonl`), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  console.log(`${name}: ${lines.length - 2} lines, ${JSON.stringify(lines.at(-1))}`);
}

mkdirSync(OUT, { recursive: true });
const wanted = process.argv.slice(2);
for (const [name, s] of Object.entries(SCENARIOS)) if (!wanted.length || wanted.includes(name)) await capture(name, s);
