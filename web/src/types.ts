/** The document shape the board reads (a subset of the server's Item and NodeEntry). */
export const STAGES = ["backlog", "current", "qa", "merge", "done", "archived"] as const;
export type Stage = (typeof STAGES)[number];

export interface Item {
  id: string;
  name: string;
  type: string;
  stage: Stage;
  body: string;
  createdAt: number;
  claim: { node: string; at: number; epoch: number } | null;
  retries: number;
  blocked: string | null;
  lastRun?: { turns?: number; costUsd?: number; durationMs: number; exit: number | null; error?: string };
  mergeCommit?: string;
  failure?: string;
}

export interface NodeEntry {
  id: string;
  label: string;
  role: string;
  address: string;
  lastSeen: number;
  alive: boolean;
}
