import type { RunOutcome, StopKind } from "./agent-runtime.js";

/**
 * What codex and gemini runs have in common once their own events are read: the facts a
 * classifier needs and the result it gives. Pure; the runtimes collect the facts and the unit
 * tests feed recorded transcripts (`test/fixtures/codex-transcripts/`, `gemini-transcripts/`).
 */
export type CliEvent = Record<string, unknown>;

export interface CliFacts {
  events: readonly CliEvent[];
  stdout: readonly string[];
  stderr: readonly string[];
  exit: number | null;
  signal?: string;
  startError?: string;
  stopped?: { reason: string; kind: StopKind };
  /** Set when the runtime stopped the run because it passed its `max_budget_usd`. */
  budgetStop?: boolean;
  endedAt: number;
}

/** Whose trouble a node failure is: an account's (limits, credentials) pauses that account everywhere. */
export type AccountTrouble = "limit" | "credentials";

export interface CliClassified {
  outcome: RunOutcome;
  reason: string;
  error?: string;
  resetsAt?: number;
  sessionId?: string;
  finalText?: string;
  turns?: number;
  tokens?: Tokens;
  resumeFailed?: boolean;
  accountTrouble?: AccountTrouble;
  budget?: boolean;
}

export interface Tokens {
  input: number;
  output: number;
  cached: number;
}

/** The verdicts every CLI shares, before its own events are read: lost, could not start, over budget. */
export function earlyVerdict(f: CliFacts): CliClassified | undefined {
  if (f.stopped?.kind === "lost") return { outcome: "lost", reason: f.stopped.reason };
  if (f.startError) return { outcome: "node_failure", reason: "the runtime could not be started", error: f.startError };
  if (f.budgetStop) return { outcome: "story_failure", reason: f.stopped?.reason ?? "budget exhausted", budget: true };
  return undefined;
}

/** The last non-empty line. */
export function lastLine(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.trim()) return lines[i]!.trim();
  return undefined;
}

/** Fill `error` for a run that did not succeed (the runtime's own words where there are some). */
export function withError(c: CliClassified): CliClassified {
  return c.outcome !== "done" && !c.error ? { ...c, error: c.reason } : c;
}

export const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
export const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);
export const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** A JSON object line, or undefined. */
export function parseJsonLine(line: string): CliEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return obj(v) && typeof (v as { type?: unknown }).type === "string" ? (v as CliEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** Credential trouble in an error text, across vendors. */
export function credentialFailure(text: string): string | undefined {
  if (/missing environment variable|must specify the GEMINI_API_KEY|not logged in|please (run )?(codex )?login/i.test(text))
    return "missing credentials";
  if (
    /\b401\b|unauthori[sz]ed|invalid api key|incorrect api key|api key not valid|API_KEY_INVALID|permission denied \(403\)|\b403\b/i.test(
      text,
    )
  )
    return "invalid credentials";
  return undefined;
}
