import type { Logger } from "pino";
import type { LiveConfig } from "../config/live-config.js";
import type { Confinement } from "../confinement/confine.js";
import type { WorktreeSource } from "../git/worktree-pool.js";
import type { AgentPool } from "../runtime/agent-pool.js";
import type { StoryLogs } from "../runtime/story-log.js";
import type { Claims } from "../state/claims.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { Identity } from "../trust/identity.js";
import type { SlotAccounts } from "./slot-accounts.js";

/** What a job tells the node about the node's own health (implemented by NodePause). */
export interface NodeHealth {
  /**
   * A step failed because of this node (credentials, limits; `cause: "trouble"`: the machine
   * itself, a full disk, an unreachable origin): take no new work for a while, with backoff.
   */
  nodeFailure(reason: string, opts?: { resetsAt?: number; cause?: "trouble" }): void;
  /** Close to a usage limit: take no new stories, let running ones finish. */
  nearLimit(utilization: number, resetsAt: number | undefined): void;
  /** A run worked: node failures in a row start over. */
  succeeded(): void;
}

/** What a running job may touch: this node's project checkout, replica, config, logs and pool. */
export interface JobContext {
  root: string;
  nodeId: string;
  pipeline: PipelineDoc;
  claims: Claims;
  config: LiveConfig;
  logs: StoryLogs;
  pool: AgentPool;
  baseBranch: string;
  log: Logger;
  /** Merges on one node share one workspace: they run one at a time. */
  mergeLock: <T>(fn: () => Promise<T>) => Promise<T>;
  health: NodeHealth;
  /** Accounts and budgets (issue 28); absent: every slot runs as configured, with no caps. */
  accounts?: SlotAccounts;
  /** Counters for /metrics (claim-to-start latency, runs by outcome, cost, turns, autonomous grants). */
  metrics?: {
    claimToStart(ms: number): void;
    runFinished(r: { outcome: string; costUsd?: number; turns?: number }): void;
    claimGranted(n?: number): void;
  };
  /** Record or forget the pid of a coder, so a restarted node can kill its orphans. */
  trackPid(storyId: string, pid: number | undefined): void;
  /** The node's key: a coder's channel signs its tick requests with it (src/pipeline/tick-request.ts); absent in benches. */
  identity?: Identity;
  /** The node's confinement: every story-controlled process (agents, gates) starts through it. */
  confinement?: Confinement;
  /** Prepared worktrees for first attempts (absent: every worktree is added on the claim path). */
  worktrees?: WorktreeSource & { refresh(): void };
}

/** A tiny promise-chain mutex. */
export function serialize(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
