import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODELS } from "../config/defaults.js";
import { num, obj, str, type Tokens } from "./cli-outcome.js";
import { CliAgentRuntime, type CliDriver } from "./cli-runtime.js";
import { managedCliHome } from "./codex-runtime.js";
import { classifyGemini, geminiLiveAction } from "./gemini-signals.js";
import { UsageTail } from "./usage-tail.js";

/**
 * Google's Gemini CLI: `gemini -o stream-json --approval-mode yolo -p ""` with the prompt on stdin
 * (`-p` only switches to headless mode; gemini appends it to stdin), `--resume ID` to continue.
 * With an API key or `GOOGLE_GEMINI_BASE_URL` in the run's environment (confined, the node's
 * credential proxy is its base URL and the CLI holds a placeholder key) gemini keeps its state in a huskies-managed `GEMINI_CLI_HOME` whose settings select
 * API-key auth (gemini otherwise takes a base URL for a "gateway" login it then refuses) and cap
 * the session at `max_turns`; otherwise the node's own gemini login (`GEMINI_CLI_HOME` or `~`).
 */
export const geminiDriver: CliDriver = {
  name: "gemini",
  invocation(spec, env) {
    const s = spec.slot;
    // An API key means API-key auth: confined, the key is swapped for a placeholder and the base URL
    // for the node's credential proxy, which gemini accepts only with these settings.
    const managed = !env.GEMINI_CLI_HOME && !!(env.GOOGLE_GEMINI_BASE_URL || env.GEMINI_API_KEY || env.GOOGLE_API_KEY);
    const home = env.GEMINI_CLI_HOME ?? (managed ? managedCliHome(spec, "gemini") : (env.HOME ?? "/"));
    if (managed) {
      const settings = {
        security: { auth: { selectedType: "gemini-api-key" } },
        model: { maxSessionTurns: s.max_turns },
        general: { disableAutoUpdate: true, disableUpdateNag: true },
        privacy: { usageStatisticsEnabled: false },
      };
      mkdirSync(join(home, ".gemini"), { recursive: true });
      writeFileSync(join(home, ".gemini", "settings.json"), JSON.stringify(settings, null, 2));
    }
    const args = ["-o", "stream-json", "--approval-mode", "yolo", "-m", s.model ?? DEFAULT_MODELS.gemini];
    if (spec.resumeSessionId) args.push("--resume", spec.resumeSessionId);
    args.push("-p", "");
    return {
      args: () => args,
      // Trust the worktree (headless runs refuse an untrusted folder) and stay in one process.
      env: { GEMINI_CLI_HOME: home, GEMINI_CLI_TRUST_WORKSPACE: "true", GEMINI_CLI_NO_RELAUNCH: "true", TZ: "UTC" },
      stateDirs: [(mkdirSync(join(home, ".gemini"), { recursive: true }), join(home, ".gemini"))],
    };
  },
  live: geminiLiveAction,
  classify: classifyGemini,
  usageSource(env, sessionId, since) {
    const home = env.GEMINI_CLI_HOME;
    if (!home) return undefined;
    return new UsageTail(() => chatFiles(join(home, ".gemini", "tmp"), sessionId, since), chatTokens);
  },
};

/** Chat files of a session: `<home>/.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl`, written since `since`. */
function chatFiles(tmp: string, sessionId: string, since: number): string[] {
  const out: string[] = [];
  const suffix = `-${sessionId.slice(0, 8)}.jsonl`;
  let projects: string[];
  try {
    projects = readdirSync(tmp);
  } catch {
    return out;
  }
  for (const p of projects) {
    const dir = join(tmp, p, "chats");
    try {
      for (const f of readdirSync(dir)) if (f.endsWith(suffix) && statSync(join(dir, f)).mtimeMs >= since - 1000) out.push(join(dir, f));
    } catch {
      /* not a project directory */
    }
  }
  return out;
}

/** Tokens of the model's replies recorded in a chat file (each reply counted once, by id). */
export function chatTokens(text: string): Tokens | undefined {
  const byId = new Map<string, Tokens>();
  for (const line of text.split("\n")) {
    if (!line.includes('"tokens"')) continue;
    try {
      const records = [obj(JSON.parse(line))];
      const set = obj(records[0]?.$set);
      if (Array.isArray(set?.messages)) records.push(...set.messages.map(obj));
      for (const r of records) {
        const t = obj(r?.tokens);
        const id = str(r?.id);
        if (!t || !id) continue;
        const cached = num(t.cached) ?? 0;
        byId.set(id, { input: Math.max(0, (num(t.input) ?? 0) - cached), output: num(t.output) ?? 0, cached });
      }
    } catch {
      /* a line being written */
    }
  }
  if (byId.size === 0) return undefined;
  return [...byId.values()].reduce((a, b) => ({ input: a.input + b.input, output: a.output + b.output, cached: a.cached + b.cached }));
}

export class GeminiRuntime extends CliAgentRuntime {
  constructor() {
    super(geminiDriver);
  }
}
