import type { Logger } from "pino";
import type * as Y from "yjs";
import type { AgentSlot } from "../config/agents-config.js";
import type { LiveConfig } from "../config/live-config.js";
import { SlotAccounts } from "../agent/slot-accounts.js";
import { nodePauseFromBlocks, nodePausedBySlots, isImplicitAccount } from "../pipeline/account-rules.js";
import { AccountLedger } from "../state/account-ledger.js";
import type { AccountsView } from "../state/accounts-view.js";
import type { PauseState } from "../state/item.js";
import type { Identity } from "../trust/identity.js";

/**
 * A node's side of accounts and budgets (issue 28): the ledger, its slots' accounts, the pause the
 * node shows because of them, and the view `status`, `/api/accounts`, `/metrics` and the board read.
 * Whenever the ledger or the config changes, and at the earliest reset or midnight, `changed`
 * tells the node (beat its entry, wake its loop).
 */
export class NodeAccounts {
  readonly ledger: AccountLedger;
  readonly slots: SlotAccounts;
  private timer: NodeJS.Timeout | undefined;
  private seen = new Set<string>();
  private unobserve: (() => void) | undefined;

  constructor(
    doc: Y.Doc,
    identity: Identity,
    private readonly config: LiveConfig,
    private readonly opts: {
      /** Whether a node's ledger entries count (a member of this project). */
      known: (nodeId: string) => boolean;
      /** The slots this node runs (none for a node without agents). */
      runs: () => readonly AgentSlot[];
      /** Called after every change that may change the node's pause or what it may take. */
      changed: () => void;
      log: Logger;
    },
  ) {
    this.ledger = new AccountLedger(doc, identity, opts.known, opts.log);
    this.slots = new SlotAccounts(this.ledger, config);
  }

  start(): void {
    this.unobserve = this.ledger.onChange(() => this.changed());
    this.changed();
  }

  stop(): void {
    this.unobserve?.();
    clearTimeout(this.timer);
  }

  /**
   * The pause the node shows when its own is not set: the project's daily cap (when it has slots),
   * else what blocks every one of its slots (see nodePauseFromBlocks), else none.
   */
  pause(now = Date.now()): PauseState | null {
    const slots = this.opts.runs();
    const cap = this.slots.projectCapReached(now);
    if (cap && slots.length) return { reason: cap.reason, since: now, until: cap.until };
    const blocks = slots.map((slot) => this.slots.slotBlocks(slot, now));
    if (!nodePausedBySlots(blocks.map((b) => ({ usable: b.length === 0 })))) return null;
    return nodePauseFromBlocks(blocks.flat()) ?? null;
  }

  /** The ledger or the config changed (or a reset came): log new pauses, tell the node, re-arm the timer. */
  changed(now = Date.now()): void {
    clearTimeout(this.timer);
    // Say once when an account's pause reaches this node (from whichever node saw the trouble).
    const live = new Set<string>();
    for (const p of this.ledger.pauses(now)) {
      const key = `${p.account}\u0000${p.since}\u0000${p.until}`;
      live.add(key);
      if (!this.seen.has(key))
        this.opts.log.info({ account: p.account, reason: p.reason, until: p.until, by: p.node }, "account pause in force here");
    }
    this.seen = live;
    this.opts.changed();
    const next = Math.min(...this.ledger.pauses(now).map((p) => p.until), this.slots.projectCapReached(now)?.until ?? Infinity);
    if (Number.isFinite(next)) {
      this.timer = setTimeout(() => this.changed(), Math.max(0, next - Date.now()) + 50);
      this.timer.unref();
    }
  }

  /** Accounts, their pauses and today's spend as this node sees them. */
  view(now = Date.now()): AccountsView {
    const project = this.config.project;
    const configured = this.config.agents.account;
    const pauses = this.ledger.pauses(now).filter((p) => !isImplicitAccount(p.account));
    const spend = this.slots.today(now);
    const cap = this.slots.projectCapReached(now);
    const names = new Set([...configured.map((a) => a.name), ...pauses.map((p) => p.account), ...Object.keys(spend.accounts)]);
    return {
      day: spend.day,
      timezone: project.timezone,
      spentTodayUsd: spend.total,
      dailyBudgetUsd: project.daily_budget_usd ?? null,
      capReached: cap?.reason ?? null,
      capUntil: cap?.until ?? null,
      byRuntime: spend.runtimes,
      accounts: [...names]
        .filter((n) => !isImplicitAccount(n))
        .map((name) => {
          const a = configured.find((x) => x.name === name);
          const p = pauses.find((x) => x.account === name);
          return {
            name,
            runtime: a?.runtime ?? null,
            paused: p ? { reason: p.reason, since: p.since, until: p.until, cause: p.cause, node: p.node } : null,
            resetInSecs: p ? Math.max(0, Math.round((p.until - now) / 1000)) : null,
            spentTodayUsd: spend.accounts[name] ?? 0,
            dailyBudgetUsd: a?.daily_budget_usd ?? null,
          };
        }),
    };
  }
}
