/**
 * Accounts and budgets as one node sees them (issue 28): each account's pause and time to reset,
 * today's spend per account and runtime, and the project's daily cap. Built by the node from its
 * ledger; read by `huskies status`, `/api/accounts` and the board's accounts panel (no imports, so
 * the board can share the type).
 */
export interface AccountsView {
  day: string;
  timezone: string;
  spentTodayUsd: number;
  dailyBudgetUsd: number | null;
  capReached: string | null;
  /** When a reached project cap lifts (the next midnight in `timezone`). */
  capUntil: number | null;
  byRuntime: Record<string, number>;
  accounts: Array<{
    name: string;
    runtime: string | null;
    paused: { reason: string; since: number; until: number; cause: string; node: string } | null;
    resetInSecs: number | null;
    spentTodayUsd: number;
    dailyBudgetUsd: number | null;
  }>;
}
