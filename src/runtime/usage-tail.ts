import { readFileSync } from "node:fs";
import { USAGE_POLL_MS } from "../config/defaults.js";
import type { Tokens } from "./cli-outcome.js";

/**
 * Token counts of a running codex or gemini session, read from the session files the CLI writes
 * after every model response (codex's rollout `token_count` events, gemini's chat records): their
 * JSON output reports usage only when the run ends, and a budget must stop a run before that.
 * Polled while a budget applies; a file that cannot be read yet counts as nothing.
 */
export class UsageTail {
  private timer: NodeJS.Timeout | undefined;
  private last = "";
  private baseline: Tokens | undefined;

  constructor(
    private readonly files: () => string[],
    private readonly count: (text: string) => Tokens | undefined,
    private readonly everyMs = USAGE_POLL_MS,
  ) {}

  /** Counts from now on: a resumed session's files already hold its earlier runs. */
  start(onTokens: (t: Tokens) => void): void {
    this.baseline = this.read();
    this.timer = setInterval(() => {
      const t = minus(this.read(), this.baseline);
      const key = JSON.stringify(t);
      if (t && key !== this.last) {
        this.last = key;
        onTokens(t);
      }
    }, this.everyMs);
    this.timer.unref();
  }

  read(): Tokens | undefined {
    let sum: Tokens | undefined;
    for (const f of this.files()) {
      let text: string;
      try {
        text = readFileSync(f, "utf8");
      } catch {
        continue;
      }
      const t = this.count(text);
      if (t) sum = { input: (sum?.input ?? 0) + t.input, output: (sum?.output ?? 0) + t.output, cached: (sum?.cached ?? 0) + t.cached };
    }
    return sum;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function minus(a: Tokens | undefined, b: Tokens | undefined): Tokens | undefined {
  if (!a || !b) return a;
  return { input: Math.max(0, a.input - b.input), output: Math.max(0, a.output - b.output), cached: Math.max(0, a.cached - b.cached) };
}
