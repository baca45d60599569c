import type { Logger } from "pino";
import { CLOCK_OFFSET_SAMPLES, clockOffset, clockSkewed, holderHeard, peerAlive } from "../pipeline/peer-liveness.js";
import { systemClock, type Clock } from "../util/clock.js";

/** What this node knows of a peer's clock, for `huskies status`. */
export interface PeerClockView {
  /** Seconds since this node last received the peer's heartbeat; null: not since it started. */
  heardSecsAgo: number | null;
  /** How far the peer's clock is ahead of this node's (negative: behind), when it is off by more than 5 s. */
  clockOffsetSecs?: number;
}

/**
 * When this node last received each peer's heartbeat, on its own monotonic clock (see
 * `peer-liveness.ts`). `PipelineDoc` feeds it: `received` for a node entry whose `lastSeen` grew
 * in a live update (the peer's own write, relayed or direct), `seen` for one that arrived in bulk
 * (loaded from disk, or in a catch-up sync), which says nothing about when it was written.
 */
export class PeerReceipts {
  private readonly heard = new Map<string, number>();
  private readonly firstSeen = new Map<string, number>();
  private readonly offsets = new Map<string, number[]>();
  private readonly reported = new Set<string>();

  constructor(
    readonly clock: Clock = systemClock,
    private readonly log?: Logger,
  ) {}

  /** The entry of `id` is known (loaded or caught up), without proof of when it was written. */
  seen(id: string): void {
    if (!this.firstSeen.has(id)) this.firstSeen.set(id, this.clock.monotonic());
  }

  /**
   * A new heartbeat of `id` arrived now; `lastSeen` is its own clock's time of it. `fresh`: it was
   * written just now (a live update), so it also samples the peer's clock offset.
   */
  received(id: string, lastSeen: number, fresh = true): void {
    const now = this.clock.monotonic();
    this.seen(id);
    this.heard.set(id, now);
    if (!fresh) return;
    const samples = this.offsets.get(id) ?? [];
    samples.push(lastSeen - this.clock.now());
    if (samples.length > CLOCK_OFFSET_SAMPLES) samples.shift();
    this.offsets.set(id, samples);
    if (!this.reported.has(id) && clockSkewed(samples)) {
      this.reported.add(id);
      const offsetSecs = Math.round(clockOffset(samples)! / 1000);
      this.log?.warn(
        { node: id.slice(0, 12), offsetSecs },
        "a node's clock differs from this node's by more than 5 s (liveness does not depend on it; its times read wrong here)",
      );
    }
  }

  lastReceipt(id: string): number | undefined {
    return this.heard.get(id);
  }

  alive(id: string, aliveMs: number, now = this.clock.monotonic()): boolean {
    return peerAlive(this.heard.get(id), now, aliveMs);
  }

  /** Whether a claim held by `id` still binds as far as hearing from it goes. */
  holds(id: string, claimTimeoutMs: number, now = this.clock.monotonic()): boolean {
    return holderHeard(this.heard.get(id) ?? this.firstSeen.get(id), now, claimTimeoutMs, this.listeningSince);
  }

  /** When this process last woke from a stop it noticed (see `resumed`). */
  private listeningSince: number | undefined;

  /**
   * This process was stopped until `now` (its own periodic work ran late by far more than its
   * period): it heard nobody meanwhile, so holders' silence counts from now, as after a restart.
   */
  resumed(now = this.clock.monotonic()): void {
    this.listeningSince = now;
  }

  view(id: string, now = this.clock.monotonic()): PeerClockView {
    const heard = this.heard.get(id);
    const samples = this.offsets.get(id) ?? [];
    return {
      heardSecsAgo: heard === undefined ? null : Math.max(0, Math.round((now - heard) / 1000)),
      ...(clockSkewed(samples) ? { clockOffsetSecs: Math.round(clockOffset(samples)! / 1000) } : {}),
    };
  }
}
