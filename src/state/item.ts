import type { Claim } from "../pipeline/claim-rules.js";
import type { ItemType } from "../pipeline/item-id.js";
import type { Stage } from "../pipeline/stages.js";

export type QaMode = "server" | "agent" | "human";

/** What a finished coder run left on the item (from Claude Code's `result` event, or the exit code). */
export interface LastRun {
  node: string;
  slot: string;
  turns?: number;
  costUsd?: number;
  durationMs: number;
  exit: number | null;
  error?: string;
}

/** A work item as read from the document (DESIGN section 4). */
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
  failure?: string;
  /** The node whose disk holds the item's latest log. */
  logNode?: string;
}

export interface NodeEntry {
  id: string;
  label: string;
  address: string;
  role: string;
  lastSeen: number;
  alive: boolean;
  capacity: { coder: number; qa: number; mergemaster: number };
  startedAt?: number;
}

/** Fields a writer may set on an item (the id and creation time never change). */
export type ItemPatch = Partial<Omit<Item, "id" | "createdAt" | "requests">>;
