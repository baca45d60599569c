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

/** Why one account takes no work: a ledger pause or a reached daily cap, and when it lifts. */
export interface AccountBlock {
  account: string;
  reason: string;
  since: number;
  until: number;
}

/**
 * The pause a node shows when every slot is blocked. One account behind it all: that account's own
 * reason, so a node whose slots share one account reads exactly as a node-pause did before accounts
 * (`Not logged in · Please run /login`), prefixed with the account's name when it is a named one.
 * Several: each account named once. The node resumes at the earliest lift.
 */
export function nodePauseFromBlocks(blocks: readonly AccountBlock[]): { reason: string; since: number; until: number } | undefined {
  const byAccount = new Map<string, AccountBlock>();
  for (const b of blocks) if (!byAccount.has(b.account)) byAccount.set(b.account, b);
  const all = [...byAccount.values()];
  if (!all.length) return undefined;
  const named = (b: AccountBlock) => (isImplicitAccount(b.account) ? b.reason : `account ${b.account}: ${b.reason}`);
  const reason =
    all.length === 1
      ? named(all[0]!)
      : `every slot's account is paused: ${all.map((b) => `${b.account} (${b.reason.slice(0, 80)})`).join("; ")}`;
  return {
    reason: reason.slice(0, 500),
    since: Math.min(...all.map((b) => b.since)),
    until: Math.min(...all.map((b) => b.until)),
  };
}
