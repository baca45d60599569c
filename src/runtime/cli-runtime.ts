import { realpathSync } from "node:fs";
import { dirname, isAbsolute, sep } from "node:path";
import { DEFAULT_PRICES } from "../config/defaults.js";
import { confinementFor } from "../confinement/default.js";
import { logger } from "../log.js";
import { tokenCost, type TokenPrice } from "../pipeline/budget-rules.js";
import type { AgentRuntime, RunningAgent, RunSpec, RuntimeSignal, StopKind } from "./agent-runtime.js";
import { agentEnv, huskiesVars } from "./agent-env.js";
import { findCli, type CliRuntime } from "./cli-binary.js";
import { parseJsonLine, type CliClassified, type CliEvent, type CliFacts, type Tokens } from "./cli-outcome.js";
import { UsageTail } from "./usage-tail.js";

/** Stderr and plain stdout lines kept for classification. */
const TAIL_LINES = 200;

/** How one vendor's CLI is driven; `CliAgentRuntime` does the rest the same way for each. */
export interface CliDriver {
  readonly name: CliRuntime;
  /**
   * Fixed environment and the CLI's state directories, and its arguments (never the prompt: it goes
   * to stdin) as a function of the environment it finally gets (with the model API's base URL
   * routed through the node's credential proxy when confined).
   */
  invocation(
    spec: RunSpec,
    env: Record<string, string>,
  ): { args: (env: Readonly<Record<string, string>>) => string[]; env: Record<string, string>; stateDirs: string[] };
  /** What to do about one event as it arrives. */
  live(event: CliEvent, now: number): { signal?: RuntimeSignal; stop?: { reason: string; kind: StopKind } } | undefined;
  classify(facts: CliFacts): CliClassified;
  /** Session files that record each model response's tokens while the run goes on (for budgets). */
  usageSource?(env: Record<string, string>, sessionId: string, since: number): UsageTail | undefined;
}

/**
 * A vendor CLI (codex, gemini) as a runtime: started through the node's confinement like every
 * process a story controls (bwrap; the CLI's own sandbox stays off), with its installed package
 * readable, its state directory writable (sessions, to resume), and its model API reached through
 * the node's credential proxy (the CLI holds a placeholder key). The prompt goes on stdin, every
 * JSON event to the story log; usage limits and credential failures are signalled at their first
 * sign, and the run's tokens priced for `lastRun.costUsd` and its budget.
 */
export class CliAgentRuntime implements AgentRuntime {
  constructor(private readonly driver: CliDriver) {}

  get name(): string {
    return this.driver.name;
  }

  start(spec: RunSpec): RunningAgent {
    const d = this.driver;
    const events: CliEvent[] = [];
    const stdout: string[] = [];
    const stderr: string[] = [];
    const price = priceOf(spec);
    const started = Date.now();
    let budgetStop = false;
    let usage: UsageTail | undefined;
    let sessionId: string | undefined;
    const signal = (s: RuntimeSignal) => {
      try {
        spec.onSignal?.(s);
      } catch (err) {
        logger("runtime").error({ story: spec.storyId, err: (err as Error).message, signal: s.kind }, "signal handler failed");
      }
    };
    const base = agentEnv({ kind: d.name, slotEnv: spec.slot.env, extra: spec.env, huskies: huskiesVars(spec) });
    const inv = d.invocation(spec, base);
    const env = { ...base, ...inv.env };
    const bin = findCli(d.name, spec.slot.path, env.PATH);
    const overBudget = (cost: number) => spec.maxBudgetUsd !== undefined && cost > spec.maxBudgetUsd;
    const checkSpend = (tokens: Tokens | undefined) => {
      if (!tokens || budgetStop) return;
      const cost = tokenCost(tokens, price);
      signal({ kind: "spend", costUsd: cost });
      if (!overBudget(cost)) return;
      budgetStop = true;
      const reason = `budget exhausted: $${cost.toFixed(4)} spent, max_budget_usd is $${spec.maxBudgetUsd}`;
      void run.stop(reason, "story_failure").catch(() => undefined);
    };
    const run = confinementFor(spec).run({
      label: spec.slot.name,
      storyId: spec.storyId,
      cwd: spec.cwd,
      projectRoot: spec.projectRoot,
      mode: spec.slot.sandbox,
      ownBranch: spec.ownBranch,
      baseBranch: spec.baseBranch,
      channel: spec.channel,
      readFiles: [...(isAbsolute(spec.promptFile) ? [spec.promptFile] : []), ...installDirs(bin)],
      writeDirs: inv.stateDirs,
      command: bin,
      args: (_policy, finalEnv) => inv.args(finalEnv),
      env,
      input: spec.slot.system_prompt ? `${spec.slot.system_prompt}\n\n${spec.prompt}` : spec.prompt,
      inactivityMs: spec.inactivityMs,
      onLine: (stream, line) => {
        if (stream === "stderr") {
          keep(stderr, line);
          return spec.onLog({ kind: "stderr", text: line });
        }
        const event = parseJsonLine(line);
        if (!event) {
          keep(stdout, line);
          return spec.onLog({ kind: "stdout", text: line });
        }
        events.push(event);
        spec.onLog({ kind: "event", event });
        const action = d.live(event, Date.now());
        if (action?.signal?.kind === "session") {
          sessionId = action.signal.sessionId;
          if (spec.maxBudgetUsd !== undefined && !usage) {
            usage = d.usageSource?.(env, sessionId, started);
            usage?.start((t) => checkSpend(t));
          }
        }
        if (action?.signal) signal(action.signal);
        if (action?.stop) void run.stop(action.stop.reason, action.stop.kind).catch(() => undefined);
      },
      finish: (raw) => {
        usage?.stop();
        const c = d.classify({ events, stdout, stderr, ...raw, budgetStop });
        const costUsd = c.tokens ? tokenCost(c.tokens, price) : undefined;
        if (costUsd !== undefined && !budgetStop && overBudget(costUsd) && c.outcome === "done") {
          // Over budget only at the end (no live counts): the work is there, but the budget was not kept.
          Object.assign(c, {
            outcome: "story_failure",
            reason: "budget exhausted",
            budget: true,
            error: `budget exhausted: $${costUsd.toFixed(4)} spent`,
          });
        }
        return { ...c, sessionId: c.sessionId ?? sessionId, costUsd, ok: c.outcome === "done", exit: raw.exit, durationMs: raw.durationMs };
      },
    });
    return run;
  }
}

/**
 * What of the host a CLI needs to read to run at all: its installed package (a node script and,
 * for codex, the native binary beside it), found from the binary's real path. The outermost
 * `node_modules` holding it, so its dependencies come along; a binary outside any, its directory.
 * (Toolchain directories such as `/usr` are readable anyway.)
 */
export function installDirs(bin: string): string[] {
  let real: string;
  try {
    real = realpathSync(bin);
  } catch {
    return [];
  }
  const marker = `${sep}node_modules${sep}`;
  const at = real.indexOf(marker);
  return [at >= 0 ? real.slice(0, at + marker.length - 1) : dirname(real)];
}

/** The slot's price (an account's is folded into the slot by the caller), else the runtime's list price. */
function priceOf(spec: RunSpec): TokenPrice {
  return spec.slot.price ?? DEFAULT_PRICES[spec.slot.runtime as "codex" | "gemini"] ?? { input: 0, output: 0 };
}

function keep(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > TAIL_LINES) lines.shift();
}
