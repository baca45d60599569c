import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { LiveConfig } from "../config/live-config.js";
import { resumeAt } from "../pipeline/pause-policy.js";
import type { PauseState } from "../state/item.js";

/** Who paused the node decides who may lift it: limits lift themselves, the rest need a person or a fix. */
export type PauseCause = "limit" | "near-limit" | "credentials" | "preflight" | "operator" | "trouble";

/**
 * Whether this node takes new work (issue 13). A node failure (not logged in, a usage limit, an
 * overloaded API, a missing runtime) pauses the node, never the story: the claim is given back and
 * another node can take it. A pause with `until` lifts itself then; an operator's pause (until
 * null) waits for an operator. Running jobs are not touched here.
 */
export class NodePause extends EventEmitter<{ change: [] }> {
  state: PauseState | null = null;
  cause: PauseCause | undefined;
  private failuresInARow = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: LiveConfig,
    private readonly log: Logger,
  ) {
    super();
  }

  acceptsWork(): boolean {
    return this.state === null;
  }

  /** A run ended because of this node: pause until the reset time, or back off. */
  nodeFailure(reason: string, opts: { resetsAt?: number; cause?: PauseCause } = {}, now = Date.now()): void {
    this.failuresInARow += 1;
    const cfg = this.config.project;
    const until = resumeAt(
      now,
      this.failuresInARow,
      { backoffMs: cfg.limit_backoff_secs * 1000, backoffMaxMs: cfg.limit_backoff_max_secs * 1000 },
      opts.resetsAt,
    );
    this.set({ reason, since: now, until }, opts.cause ?? "limit");
  }

  /** Close to the plan's limit: take no new stories until the reset; running ones go on. */
  nearLimit(utilization: number, resetsAt: number | undefined, now = Date.now()): void {
    if (this.state && this.cause !== "near-limit") return;
    const until = resetsAt && resetsAt > now ? resetsAt : now + this.config.project.limit_backoff_secs * 1000;
    this.set({ reason: `near the usage limit (${Math.round(utilization * 100)}% used)`, since: now, until }, "near-limit");
  }

  /** A run worked: the next failure starts the backoff from the beginning again. */
  succeeded(): void {
    this.failuresInARow = 0;
  }

  /** A pause that only a person (or a fixed config) lifts. */
  hold(reason: string, cause: "operator" | "preflight" | "credentials", now = Date.now()): void {
    this.set({ reason, since: now, until: null }, cause);
  }

  resume(why: string): void {
    if (!this.state) return;
    clearTimeout(this.timer);
    this.log.info({ reason: this.state.reason, why }, "node resumed");
    this.state = null;
    this.cause = undefined;
    this.emit("change");
  }

  private set(state: PauseState, cause: PauseCause): void {
    clearTimeout(this.timer);
    this.state = state;
    this.cause = cause;
    this.log.warn({ reason: state.reason, until: state.until, cause }, "node paused: taking no new work");
    if (state.until !== null) {
      this.timer = setTimeout(() => this.resume("the pause ran out"), Math.max(0, state.until - Date.now()));
      this.timer.unref();
    }
    this.emit("change");
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
