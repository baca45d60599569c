#!/usr/bin/env node
// Regenerates test/fixtures/codex-transcripts/*.jsonl and test/fixtures/gemini-transcripts/*.jsonl:
// what the real `codex` and `gemini` binaries print (JSON events on stdout, stderr, exit) in each
// situation huskies must classify, run offline against the scripted vendor servers
// (test/support/vendor-servers.ts) with the arguments and environment huskies' drivers give them.
// Needs `npm run build:server` (it imports the compiled drivers and servers) and the test-only
// binaries (`npm ci --prefix test/runtimes`):
//
//   node scripts/capture-cli-transcripts.mjs [codex|gemini] [SCENARIO...]
//
// The line format is the claude fixtures' (scripts/capture-claude-transcripts.mjs): {"meta": …}
// first, then {"stdout": LINE}, {"stderr": LINE}, and {"exit": CODE, "signal": SIG} last. A run is
// stopped where the runtime would stop it (the driver's live rule says `stop`), as in production.
// Paths of the temporary project are replaced by <root>, of this checkout by <huskies>, and the
// server's port by <port>, so fixtures do not churn.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { clearTimeout, setTimeout } from "node:timers";
import { fileURLToPath } from "node:url";
import { agentSlotSchema } from "../dist/src/config/agents-config.js";
import { codexDriver } from "../dist/src/runtime/codex-runtime.js";
import { geminiDriver } from "../dist/src/runtime/gemini-runtime.js";
import { CLI_BIN, ScriptedGeminiServer, ScriptedResponsesServer } from "../dist/test/support/vendor-servers.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..").replace(/\/$/, "");
const RESET = 1_900_000_000; // a fixed future reset (epoch seconds), so fixtures do not churn
const UNKNOWN_SESSION = "0b8d5d1e-1111-4222-8333-444455556666";

const shellThenText =
  (shell, text) =>
  ({ step }) =>
    step === 0 ? { shell } : { text };

/** Per CLI: its driver, its scripted server, and name → { why, script, unset, resume }. */
const CLIS = {
  codex: {
    driver: codexDriver,
    server: (script) => new ScriptedResponsesServer(script),
    env: (server) => ({ OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: "sk-scripted-responses" }),
    scenarios: {
      success: { why: "a shell command, then a final message", script: shellThenText("echo hello", "Done: said hello.") },
      "usage-limit-429": {
        why: "429 usage_limit_reached with resets_at: codex does not retry, prints when to try again (TZ=UTC) and exits 1",
        script: () => ({
          error: {
            status: 429,
            body: {
              error: { type: "usage_limit_reached", message: "The usage limit has been reached", plan_type: "plus", resets_at: RESET },
            },
          },
        }),
      },
      "missing-credential": {
        why: "no OPENAI_API_KEY in the environment",
        unset: ["OPENAI_API_KEY"],
        script: () => ({ text: "unreachable" }),
      },
      "invalid-key-401": {
        why: "401 on every request: codex reconnects five times; stopped at its first retry as the runtime does",
        script: () => ({
          error: {
            status: 401,
            body: { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } },
          },
        }),
      },
      "failed-turn": {
        why: "the model fails the turn (response.failed): the story's failure",
        script: () => ({ failed: { code: "invalid_prompt", message: "the model could not continue" } }),
      },
      "resume-not-found": {
        why: "resume a session this CODEX_HOME does not have",
        resume: UNKNOWN_SESSION,
        script: () => ({ text: "unreachable" }),
      },
    },
  },
  gemini: {
    driver: geminiDriver,
    server: (script) => new ScriptedGeminiServer(script),
    env: (server) => ({ GOOGLE_GEMINI_BASE_URL: server.url, GEMINI_API_KEY: "scripted-gemini-key" }),
    scenarios: {
      success: { why: "a shell command, then a final message", script: shellThenText("echo hello", "Done: said hello.") },
      "quota-429": {
        why: "429 RESOURCE_EXHAUSTED with a RetryInfo of an hour: gemini gives up with its quota message",
        script: () => ({
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
        }),
      },
      "missing-credential": {
        why: "no GEMINI_API_KEY in the environment",
        unset: ["GEMINI_API_KEY"],
        script: () => ({ text: "unreachable" }),
      },
      "invalid-key-400": {
        why: "400 API key not valid",
        script: () => ({
          error: {
            status: 400,
            body: { error: { code: 400, message: "API key not valid. Please pass a valid API key.", status: "INVALID_ARGUMENT" } },
          },
        }),
      },
      "resume-not-found": {
        why: "--resume with a session this home does not have",
        resume: UNKNOWN_SESSION,
        script: () => ({ text: "unreachable" }),
      },
    },
  },
};

function git(dir, ...args) {
  execFileSync("git", ["-C", dir, ...args], { stdio: "ignore" });
}

async function capture(cli, name, s) {
  const { driver } = CLIS[cli];
  const server = await CLIS[cli].server(s.script).start();
  const dir = mkdtempSync(join(tmpdir(), `huskies-capture-${cli}-`));
  const work = join(dir, "work");
  mkdirSync(work);
  git(work, "init", "-q", "-b", "main");
  git(work, "config", "user.name", "huskies test");
  git(work, "config", "user.email", "test@huskies.invalid");
  writeFileSync(join(work, "README.md"), "# project\n");
  git(work, "add", "-A");
  git(work, "commit", "-qm", "initial");
  const spec = {
    storyId: "1_story_say_hello",
    slot: agentSlotSchema.parse({ name: `${cli}-1`, runtime: cli, max_turns: 5 }),
    cwd: work,
    projectRoot: dir,
    resumeSessionId: s.resume,
  };
  const base = { PATH: process.env.PATH, HOME: join(dir, "home"), ...CLIS[cli].env(server) };
  for (const k of s.unset ?? []) delete base[k];
  const inv = driver.invocation(spec, base);
  const env = { ...base, ...inv.env };
  // Unconfined (as `sandbox = "off"` runs them): what the CLI prints does not depend on bwrap.
  const args = inv.args(env);
  const bin = join(CLI_BIN, cli);
  const lines = [
    {
      meta: {
        scenario: name,
        why: s.why,
        [cli]: execFileSync(bin, ["--version"], { encoding: "utf8", env }).trim(),
        env: Object.keys(env).sort(),
        args,
      },
    },
  ];
  const child = spawn(bin, args, { cwd: work, env, stdio: ["pipe", "pipe", "pipe"] });
  const ended = new Promise((resolve) => child.once("close", (code, signal) => resolve({ exit: code, signal })));
  child.stdin.on("error", () => undefined);
  child.stdin.end("Say hello.");
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push({ stdout: line });
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    if (event && typeof event === "object" && driver.live(event, Date.now())?.stop) child.kill("SIGTERM");
  });
  createInterface({ input: child.stderr }).on("line", (line) => lines.push({ stderr: line }));
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  lines.push(await ended);
  clearTimeout(timer);
  await server.close();
  const out = join(root, "test", "fixtures", `${cli}-transcripts`);
  mkdirSync(out, { recursive: true });
  const text = lines
    .map((l) => JSON.stringify(l))
    .join("\n")
    .replaceAll(dir, "<root>")
    .replaceAll(root, "<huskies>")
    .replaceAll(`127.0.0.1:${server.port}`, "127.0.0.1:<port>");
  writeFileSync(join(out, `${name}.jsonl`), `${text}\n`);
  rmSync(dir, { recursive: true, force: true });
  console.log(`${cli} ${name}: ${lines.length - 2} lines, ${JSON.stringify(lines.at(-1))}`);
}

const [only, ...wanted] = process.argv.slice(2);
for (const [cli, c] of Object.entries(CLIS)) {
  if (only && only !== cli) continue;
  for (const [name, s] of Object.entries(c.scenarios)) if (!wanted.length || wanted.includes(name)) await capture(cli, name, s);
}
