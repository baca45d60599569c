/**
 * Accounts (issue 28), as pure rules: which account a slot works with now, and when a node counts
 * as paused. No I/O: the ledger (`src/state/account-ledger.ts`) answers whether an account is paused.
 */

/** The accounts a slot may use, in order; a slot without any has an implicit one of its own. */
export function slotAccounts(slot: { name: string; account?: string; accounts?: string[] }): string[] {
  return slot.accounts ?? (slot.account ? [slot.account] : [implicitAccount(slot.name)]);
}

/** A slot's own account: local to its node (never in the ledger), so it pauses only that slot. */
export function implicitAccount(slotName: string): string {
  return `@${slotName}`;
}

export function isImplicitAccount(name: string): boolean {
  return name.startsWith("@");
}

/** The first account that is not paused (fallback order), or undefined when all are. */
export function accountFor(accounts: readonly string[], paused: (name: string) => boolean): string | undefined {
  return accounts.find((a) => !paused(a));
}

/** Whether a run's trouble is the account's (its limits, its credentials) rather than the node's. */
export function isAccountTrouble(r: { outcome: string; accountTrouble?: string; reason?: string }): boolean {
  if (r.outcome !== "node_failure") return false;
  if (r.accountTrouble) return true;
  // claude-code's classifier names these reasons (run-outcome.ts): limits and credentials are the account's.
  return /usage limit|rate limited|billing|not logged in|invalid credentials|missing credentials/i.test(r.reason ?? "");
}

/** A node is paused when it has slots and every one of them is. */
export function nodePausedBySlots(slots: ReadonlyArray<{ usable: boolean }>): boolean {
  return slots.length > 0 && slots.every((s) => !s.usable);
}
