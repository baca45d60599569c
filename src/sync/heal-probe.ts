import { connect } from "node:net";
import { HEAL_PROBE_INTERVAL_MS, HEAL_PROBE_SETTLE_MS, HEAL_PROBE_TIMEOUT_MS } from "../config/defaults.js";

/**
 * Faster heal: while the rendezvous link waits out its backoff, probe the rendezvous cheaply and
 * reconnect the moment it is back, instead of waiting up to 30 s.
 *
 * The decision is edge-triggered, so a server that accepts TCP but refuses the link (wrong key,
 * revoked, a proxy in front of nothing) never causes a retry storm: the probe may cut the backoff
 * short only after it has seen the server *down* (or the failed attempt itself never reached it)
 * and then sees it *up*. One early attempt per down→up edge; otherwise ordinary backoff.
 */
export interface ProbeState {
  /** The server was seen unreachable since the last attempt: an "up" now means it came back. */
  armed: boolean;
}

/** Pure rule: given the state and one probe result, the next state and whether to reconnect now. */
export function probeDecision(state: ProbeState, up: boolean): { state: ProbeState; reconnect: boolean } {
  if (!up) return { state: { armed: true }, reconnect: false };
  return state.armed ? { state: { armed: false }, reconnect: true } : { state, reconnect: false };
}

export type Probe = () => Promise<boolean>;

/**
 * A TCP connect that counts as "up" only if the connection stays open `settleMs` (a proxy whose
 * backend is gone accepts and resets at once). Costs the server one accepted socket, closed by us.
 */
export function tcpProbe(host: string, port: number, settleMs = HEAL_PROBE_SETTLE_MS, timeoutMs = HEAL_PROBE_TIMEOUT_MS): Probe {
  return () =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      let done = false;
      const finish = (up: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(up);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.once("error", () => finish(false));
      socket.once("close", () => finish(false));
      socket.once("connect", () => {
        clearTimeout(timer);
        setTimeout(() => finish(true), settleMs);
      });
    });
}

/** The host and port a ws:// or wss:// URL connects to. */
export function urlEndpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === "wss:" || u.protocol === "https:" ? 443 : 80;
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
}

/** Runs the probe every `intervalMs` plus up to as much jitter while started; calls `onUp` on an up edge. */
export class HealProbe {
  private state: ProbeState = { armed: false };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private generation = 0;

  constructor(
    private readonly probe: Probe,
    private readonly onUp: () => void,
    private readonly intervalMs = HEAL_PROBE_INTERVAL_MS,
    private readonly random: () => number = Math.random,
  ) {}

  /** Start probing after a failed or lost link; `unreachable`: the attempt never reached the server. */
  start(unreachable: boolean): void {
    this.stop();
    this.state = { armed: unreachable };
    this.running = true;
    this.schedule(this.generation);
  }

  stop(): void {
    this.running = false;
    this.generation += 1;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  get armed(): boolean {
    return this.state.armed;
  }

  private schedule(gen: number): void {
    const delay = this.intervalMs + Math.round(this.intervalMs * this.random());
    this.timer = setTimeout(() => void this.tick(gen), delay);
    this.timer.unref();
  }

  private async tick(gen: number): Promise<void> {
    let up: boolean;
    try {
      up = await this.probe();
    } catch {
      up = false;
    }
    if (!this.running || gen !== this.generation) return;
    const next = probeDecision(this.state, up);
    this.state = next.state;
    if (next.reconnect) {
      this.stop();
      try {
        this.onUp();
      } catch {
        // onUp starts a connection attempt; its own failures are handled and logged there.
      }
      return;
    }
    this.schedule(gen);
  }
}
