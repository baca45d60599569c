import { mkdirSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_MODELS } from "../config/defaults.js";
import type { RunSpec } from "./agent-runtime.js";
import { num, obj, type Tokens } from "./cli-outcome.js";
import { CliAgentRuntime, type CliDriver } from "./cli-runtime.js";
import { classifyCodex, codexLiveAction } from "./codex-signals.js";
import { UsageTail } from "./usage-tail.js";

/**
 * The directory a CLI keeps its sessions and settings in when huskies manages it (the run talks to a
 * base URL huskies gives it: the credential proxy, or a scripted server in tests): per node, under
 * the project's `.huskies/cli/<runtime>`, so a session can be resumed on the node that has it.
 */
export function managedCliHome(spec: Pick<RunSpec, "projectRoot" | "cwd">, runtime: string): string {
  const root = spec.projectRoot ? join(spec.projectRoot, ".huskies", "cli") : join(dirname(spec.cwd), ".huskies-cli");
  const dir = join(root, runtime);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * OpenAI's Codex CLI: `codex exec --json` (or `codex exec resume ID`), the prompt on stdin (`-`).
 * With `OPENAI_BASE_URL` in the run's environment, codex talks to it through a `model_providers`
 * entry named `huskies` (Responses API, key from `OPENAI_API_KEY`) and keeps its state in a
 * huskies-managed `CODEX_HOME`; otherwise it uses the node's own codex login (`CODEX_HOME` or
 * `~/.codex`). Codex's own sandbox is off: it makes `.git` read-only, so no commit could be made;
 * huskies confines the whole CLI instead (`src/confinement/`). `TZ=UTC` makes its "try again at …"
 * times UTC. Codex has no turn limit: `max_turns` does not apply.
 */
export const codexDriver: CliDriver = {
  name: "codex",
  invocation(spec, env) {
    const s = spec.slot;
    const managed = !!env.OPENAI_BASE_URL;
    const home = env.CODEX_HOME ?? (managed ? managedCliHome(spec, "codex") : join(env.HOME ?? homedir(), ".codex"));
    mkdirSync(home, { recursive: true });
    const args = (final: Readonly<Record<string, string>>) => {
      const a = [
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "-m",
        s.model ?? DEFAULT_MODELS.codex,
      ];
      // The base URL the CLI finally gets: the node's credential proxy when confined, else the node's own.
      const baseUrl = final.OPENAI_BASE_URL;
      if (baseUrl) {
        const provider = `{ name = "huskies", base_url = ${JSON.stringify(baseUrl)}, env_key = "OPENAI_API_KEY", wire_api = "responses" }`;
        a.push("-c", `model_providers.huskies=${provider}`, "-c", 'model_provider="huskies"');
      }
      if (spec.resumeSessionId) a.push("resume", spec.resumeSessionId);
      a.push("-");
      return a;
    };
    return { args, env: { CODEX_HOME: home, TZ: "UTC" }, stateDirs: [home] };
  },
  live: codexLiveAction,
  classify: classifyCodex,
  usageSource(env, sessionId, since) {
    const home = env.CODEX_HOME;
    if (!home) return undefined;
    return new UsageTail(() => rolloutFiles(join(home, "sessions"), sessionId, since), rolloutTokens);
  },
};

/** Rollout files of a session: `sessions/YYYY/MM/DD/rollout-…-<id>.jsonl`, for the days since `since`. */
function rolloutFiles(dir: string, sessionId: string, since: number): string[] {
  const out: string[] = [];
  for (let t = since - 86_400_000; t <= Date.now() + 86_400_000; t += 86_400_000) {
    const d = new Date(t);
    const day = join(
      dir,
      String(d.getUTCFullYear()),
      String(d.getUTCMonth() + 1).padStart(2, "0"),
      String(d.getUTCDate()).padStart(2, "0"),
    );
    try {
      for (const f of readdirSync(day)) if (f.endsWith(`-${sessionId}.jsonl`) && statSync(join(day, f)).isFile()) out.push(join(day, f));
    } catch {
      /* no sessions that day */
    }
  }
  return [...new Set(out)];
}

/** The latest cumulative `token_count` of a rollout file. */
export function rolloutTokens(text: string): Tokens | undefined {
  let found: Tokens | undefined;
  for (const line of text.split("\n")) {
    if (!line.includes('"token_count"')) continue;
    try {
      const u = obj(obj(obj(obj(JSON.parse(line))?.payload)?.info)?.total_token_usage);
      if (!u) continue;
      const cached = num(u.cached_input_tokens) ?? 0;
      found = { input: Math.max(0, (num(u.input_tokens) ?? 0) - cached), output: num(u.output_tokens) ?? 0, cached };
    } catch {
      /* a line being written */
    }
  }
  return found;
}

export class CodexRuntime extends CliAgentRuntime {
  constructor() {
    super(codexDriver);
  }
}
