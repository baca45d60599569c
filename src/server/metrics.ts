import { Hono } from "hono";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { STAGES } from "../pipeline/stages.js";
import { isLive, isPaused, type StuckNode } from "../pipeline/stuck-hint.js";

/** What the gauges read at scrape time; every source is optional except the stories. */
export interface MetricsSource {
  /** Every item (stage and blocked reason are all that is read). */
  stories: () => Iterable<{ stage: string; blocked?: string | null }>;
  /** Node entries, counted as live, paused or offline. */
  nodes?: () => Iterable<StuckNode>;
  nodeAliveMs?: () => number;
  /** Whether a node is live as this node judges it (heartbeat receipts); without it, its `lastSeen` against this clock. */
  nodeLive?: (n: StuckNode) => boolean;
  /** Open sync links by kind (e.g. `{upstream: 1, mesh: 2, inbound: 5}`). */
  syncLinks?: () => Record<string, number>;
  /** Size of the replica (encoded document, bytes). */
  replicaBytes?: () => number;
  /** Distinct writes to the document that did not verify and were ignored (issue 27). */
  unverifiedWrites?: () => number;
  /** CPU seconds spent checking signed writes. */
  writeCheckSeconds?: () => number;
  /** Node.js process metrics (`process_*`, `nodejs_*`) too; default true. */
  processMetrics?: boolean;
}

export interface RunMetrics {
  outcome: string;
  costUsd?: number;
  turns?: number;
}

/** Claim-to-start is milliseconds when warm; the tail (a cold worktree, a fetch) reaches seconds. */
const CLAIM_TO_START_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * huskies' Prometheus metrics in a registry of their own (never prom-client's global one, so two
 * nodes in one process, or tests, do not share counters). Counters are bumped by the calls below
 * from where things happen; gauges are computed when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly claims: Counter;
  private readonly startLatency: Histogram;
  private readonly runs: Counter<"outcome">;
  private readonly cost: Counter;
  private readonly turns: Counter;

  constructor(src: MetricsSource) {
    const registers = [this.registry];
    const count = (blockedOnly: boolean) => {
      const n = new Map<string, number>(STAGES.map((s) => [s, 0]));
      for (const i of src.stories()) if (n.has(i.stage) && (!blockedOnly || i.blocked)) n.set(i.stage, n.get(i.stage)! + 1);
      return n;
    };
    new Gauge({
      name: "huskies_stories",
      help: "Work items per stage",
      labelNames: ["stage"],
      registers,
      collect() {
        for (const [stage, n] of count(false)) this.set({ stage }, n);
      },
    });
    new Gauge({
      name: "huskies_stories_blocked",
      help: "Blocked work items per stage",
      labelNames: ["stage"],
      registers,
      collect() {
        for (const [stage, n] of count(true)) this.set({ stage }, n);
      },
    });
    if (src.nodes) {
      new Gauge({
        name: "huskies_nodes",
        help: "Nodes in the document: live (heartbeating), paused (live but taking no work) or offline",
        labelNames: ["state"],
        registers,
        collect() {
          const now = Date.now();
          const aliveMs = src.nodeAliveMs?.() ?? 60_000;
          const counts = { live: 0, paused: 0, offline: 0 };
          const live = src.nodeLive ?? ((n: StuckNode) => isLive(n, now, aliveMs));
          for (const n of src.nodes!()) counts[!live(n) ? "offline" : isPaused(n, now) ? "paused" : "live"] += 1;
          for (const [state, v] of Object.entries(counts)) this.set({ state }, v);
        },
      });
    }
    if (src.syncLinks) {
      new Gauge({
        name: "huskies_sync_links",
        help: "Open /crdt-sync links of this node, by kind",
        labelNames: ["kind"],
        registers,
        collect() {
          this.reset();
          for (const [kind, v] of Object.entries(src.syncLinks!())) this.set({ kind }, v);
        },
      });
    }
    if (src.replicaBytes) {
      new Gauge({
        name: "huskies_replica_bytes",
        help: "Size of this node's replica on disk (SQLite database and write-ahead log, bytes)",
        registers,
        collect() {
          this.set(src.replicaBytes!());
        },
      });
    }
    const total = (name: string, help: string, read: (() => number) | undefined) => {
      if (!read) return;
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    total("huskies_unverified_writes_total", "Writes to the document that did not verify and were ignored", src.unverifiedWrites);
    total("huskies_write_check_seconds_total", "CPU seconds spent checking signed writes", src.writeCheckSeconds);
    this.claims = new Counter({
      name: "huskies_claims_granted_total",
      help: "Claims granted by this node's sequencer (or taken autonomously)",
      registers,
    });
    this.startLatency = new Histogram({
      name: "huskies_claim_to_start_seconds",
      help: "From a claim being granted to its job starting on the holder",
      buckets: CLAIM_TO_START_BUCKETS,
      registers,
    });
    this.runs = new Counter({
      name: "huskies_runs_total",
      help: "Agent runs finished on this node, by outcome",
      labelNames: ["outcome"],
      registers,
    });
    this.cost = new Counter({
      name: "huskies_run_cost_usd_total",
      help: "Cost reported by the runtimes of finished runs (USD)",
      registers,
    });
    this.turns = new Counter({ name: "huskies_run_turns_total", help: "Turns reported by the runtimes of finished runs", registers });
    if (src.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  claimGranted(n = 1): void {
    this.claims.inc(n);
  }

  claimToStart(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.startLatency.observe(ms / 1000);
  }

  runFinished(r: RunMetrics): void {
    this.runs.inc({ outcome: r.outcome || "unknown" });
    if (r.costUsd !== undefined && Number.isFinite(r.costUsd) && r.costUsd > 0) this.cost.inc(r.costUsd);
    if (r.turns !== undefined && Number.isFinite(r.turns) && r.turns > 0) this.turns.inc(r.turns);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `GET /metrics` in the Prometheus text format. Mount at the root, behind the same guard as other reads. */
export function metricsRoute(metrics: Metrics): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => c.body(await metrics.text(), 200, { "content-type": metrics.registry.contentType }));
  return app;
}
