import { isAbsolute } from "node:path";
import { DEFAULT_PRICES } from "../config/defaults.js";
import { logger } from "../log.js";
import { tokenCost, type TokenPrice } from "../pipeline/budget-rules.js";
import type { AgentRuntime, RunningAgent, RunSpec, RuntimeSignal, StopKind } from "./agent-runtime.js";
import { agentEnv, huskiesVars } from "./agent-env.js";
import { findCli, type CliRuntime } from "./cli-binary.js";
import { parseJsonLine, type CliClassified, type CliEvent, type CliFacts, type Tokens } from "./cli-outcome.js";
import { bwrapArgs, bwrapPath } from "./cli-sandbox.js";
import { confinementOf, findExecutable, sandboxDecision } from "./sandbox.js";
import { startSupervised } from "./supervised-process.js";
import { UsageTail } from "./usage-tail.js";

/** Stderr and plain stdout lines kept for classification. */
const TAIL_LINES = 200;

/** How one vendor's CLI is driven; `CliAgentRuntime` does the rest the same way for each. */
export interface CliDriver {
  readonly name: CliRuntime;
  /** Arguments (never the prompt: it goes to stdin), fixed environment, and the CLI's state dirs. */
  invocation(
    spec: RunSpec,
    env: Record<string, string>,
  ): { args: string[]; env: Record<string, string>; stateDirs: string[]; readable?: string[] };
  /** What to do about one event as it arrives. */
  live(event: CliEvent, now: number): { signal?: RuntimeSignal; stop?: { reason: string; kind: StopKind } } | undefined;
  classify(facts: CliFacts): CliClassified;
  /** Session files that record each model response's tokens while the run goes on (for budgets). */
  usageSource?(env: Record<string, string>, sessionId: string, since: number): UsageTail | undefined;
}

/**
 * A vendor CLI (codex, gemini) as a runtime: confined under bubblewrap (see `cli-sandbox.ts`),
 * the prompt on stdin, every JSON event to the story log, usage limits and credential failures
 * signalled at their first sign, the run's tokens priced for `lastRun.costUsd` and its budget.
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
    const decision = sandboxDecision(spec.slot.sandbox, bwrapPath(env.PATH) ? [] : ["bwrap"]);
    if (decision.warning)
      logger("runtime").warn(
        { slot: spec.slot.name },
        decision.warning.replace("claude-code coders run without the Bash sandbox", `${d.name} runs unconfined`),
      );
    const readable = [...(isAbsolute(spec.promptFile) ? [spec.promptFile] : []), ...(inv.readable ?? [])];
    // A binary that is not there must fail as itself (ENOENT: a node failure), not as bwrap's exec error.
    const [command, args] =
      decision.sandboxed && findExecutable(bin, env.PATH)
        ? [
            bwrapPath(env.PATH) ?? "bwrap",
            bwrapArgs(
              {
                ...confinementOf({ cwd: spec.cwd, projectRoot: spec.projectRoot, denyRead: spec.denyRead, allowRead: readable }),
                stateDirs: inv.stateDirs,
              },
              bin,
              inv.args,
            ),
          ]
        : [bin, inv.args];
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
    // confinement: spawned here (under bwrap when available) until src/confinement/ owns every story-controlled spawn.
    const run = startSupervised(command, args, {
      cwd: spec.cwd,
      input: spec.slot.system_prompt ? `${spec.slot.system_prompt}\n\n${spec.prompt}` : spec.prompt,
      env,
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

/** The slot's price (an account's is folded into the slot by the caller), else the runtime's list price. */
function priceOf(spec: RunSpec): TokenPrice {
  return spec.slot.price ?? DEFAULT_PRICES[spec.slot.runtime as "codex" | "gemini"] ?? { input: 0, output: 0 };
}

function keep(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > TAIL_LINES) lines.shift();
}
