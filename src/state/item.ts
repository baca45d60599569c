import type { TickRequest } from "../pipeline/tick-request.js";
import type { Claim } from "../pipeline/claim-rules.js";
import type { ItemType } from "../pipeline/item-id.js";
import type { Stage } from "../pipeline/stages.js";

import type { QaMode } from "../pipeline/qa-modes.js";
import type { Review } from "../pipeline/review.js";
import type { FailureKind } from "../pipeline/failure-kind.js";

export type { QaMode };

/** How a run ended (issue 13): only `story_failure` counts toward `max_retries`. */
export type RunOutcomeKind = "done" | "story_failure" | "node_failure" | "lost";

/** What a finished run left on the item (from the runtime's result, or the exit code). */
export interface LastRun {
  node: string;
  slot: string;
  turns?: number;
  costUsd?: number;
  durationMs: number;
  exit: number | null;
  error?: string;
  /** The runtime's session id, so a node that retakes the story can continue it. */
  sessionId?: string;
  outcome?: RunOutcomeKind;
  /** The account the run used (issue 28), when the slot names accounts. */
  account?: string;
  /** The runtime that ran (`claude-code`, `codex`, …; a fallback account's may differ from the slot's): the board filters on it. */
  runtime?: string;
}

/** Why an item last failed or was sent back: a kind for machines, a message for people and the coder. */
export interface Failure {
  kind: FailureKind;
  message: string;
}

/** A work item as read from the document (docs/architecture.md §1). */
export interface Item {
  id: string;
  name: string;
  type: ItemType;
  stage: Stage;
  body: string;
  createdAt: number;
  /** When the item entered its current stage (ms). */
  stageAt: number;
  claim: Claim | null;
  /** Highest claim epoch ever issued for this item. */
  epoch: number;
  /** Claim requests, one key per asking node (never conflicts: each node writes its own key). */
  requests: Record<string, number>;
  retries: number;
  blocked: string | null;
  dependsOn: string[];
  qa?: QaMode;
  branch?: string;
  mergeCommit?: string;
  lastRun?: LastRun;
  /** The last reason the item was sent back or failed. */
  failure?: Failure;
  /** Nodes where working on this story ended in trouble the story may cause (disk, memory): rule 2's breaker. */
  troubledNodes?: string[];
  /** The node whose disk holds the item's latest log. */
  logNode?: string;
  /** Line comments a person sent the story back with; cleared when the work passes to qa again. */
  review?: Review;
  /** A coder's question to a person (`ask_human`); the story needs a person while it has no answer. */
  question?: Question;
  /** The coder's latest progress line (`report_progress`), shown on the card. */
  progress?: Progress;
  /** Ticks a holder asked for, signed by its node, waiting for the rendezvous (src/pipeline/tick-request.ts). */
  tickRequests?: Record<string, TickRequest>;
}

/** A question a coder asked through its MCP channel, and (once given) the answer that resumes it. */
export interface Question {
  text: string;
  askedAt: number;
  /** The node and slot of the run that asked, and its session: the answer resumes that session there. */
  node: string;
  slot: string;
  sessionId?: string;
  answer?: string;
  answeredAt?: number;
}

export interface Progress {
  text: string;
  at: number;
}

/** Why a node takes no new work: set by itself (limits, credentials) or by an operator. */
export interface PauseState {
  reason: string;
  since: number;
  /** When it resumes by itself (ms); null only for a manual pause. */
  until: number | null;
}

export interface NodeEntry {
  id: string;
  label: string;
  address: string;
  /** SHA-256 of the TLS certificate behind a `wss://` address: mesh peers pin it (the entry is signed by its node). */
  fingerprint?: string;
  role: string;
  lastSeen: number;
  alive: boolean;
  capacity: { coder: number; qa: number; mergemaster: number };
  startedAt?: number;
  paused?: PauseState | null;
  /** Worktrees this node keeps although their story is gone or finished, with why. */
  keptWorktrees?: Array<{ id: string; state: string }>;
  /** The huskies release the node runs and the sync protocol it speaks (absent before versioning). */
  version?: string;
  protocol?: number;
}

/**
 * Fields a writer may set on an item without a claim token. The id and creation time never
 * change; `stage`, `claim`, `epoch` and `requests` are written only by `Claims` (src/state/claims.ts).
 */
export type ItemPatch = Partial<Omit<Item, "id" | "createdAt" | "requests" | "stage" | "claim" | "epoch" | "stageAt" | "tickRequests">>;

/** The fields only the claims module writes. */
export const CLAIM_FIELDS = ["stage", "stageAt", "claim", "epoch", "requests", "tickRequests"] as const;
