import type { AgentSlot, Account } from "../config/agents-config.js";
import type { LiveConfig } from "../config/live-config.js";
import { DEFAULT_MODELS } from "../config/defaults.js";
import { accountFor, isImplicitAccount, slotAccounts, type AccountBlock } from "../pipeline/account-rules.js";
import { capReached, capReason, dayKey, nextDayStart, runBudget, type Cap } from "../pipeline/budget-rules.js";
import { resumeAt } from "../pipeline/pause-policy.js";
import type { AccountLedger } from "../state/account-ledger.js";

/** A slot ready to run with one account: the account's runtime, model, credentials and price folded in. */
export interface SlotWithAccount {
  slot: AgentSlot;
  account: string;
  /** The most this run may spend (the slot's budget, lowered to what today's caps leave). */
  maxBudgetUsd?: number;
}

/**
 * Which account each slot of this node works with now (issue 28): the first of its accounts that
 * is neither paused in the ledger nor over its daily budget. Account trouble (a limit, credentials)
 * goes into the ledger here, with the reset time or a backoff that doubles per trouble in a row.
 */
export class SlotAccounts {
  private readonly inARow = new Map<string, number>();

  constructor(
    private readonly ledger: AccountLedger,
    private readonly config: LiveConfig,
  ) {}

  private account(name: string): Account | undefined {
    return this.config.agents.account.find((a) => a.name === name);
  }

  private day(now: number): string {
    return dayKey(now, this.config.project.timezone);
  }

  /** The caps that apply to a run on `account`: the project's, and the account's own. */
  caps(account: string | undefined, now = Date.now()): Cap[] {
    const spent = this.ledger.spentOn(this.day(now));
    const caps: Cap[] = [];
    const project = this.config.project.daily_budget_usd;
    if (project !== undefined) caps.push({ name: "the project", limitUsd: project, spentUsd: spent.total });
    const a = account ? this.account(account) : undefined;
    if (a?.daily_budget_usd !== undefined)
      caps.push({ name: `account ${a.name}`, limitUsd: a.daily_budget_usd, spentUsd: spent.accounts[a.name] ?? 0 });
    return caps;
  }

  /** The project's cap when it is reached (no story may start anywhere), with when it lifts. */
  projectCapReached(now = Date.now()): { reason: string; until: number } | undefined {
    const cap = capReached(this.caps(undefined, now));
    return cap ? { reason: capReason(cap), until: nextDayStart(now, this.config.project.timezone) } : undefined;
  }

  /** Why an account takes no new story now (its pause in the ledger, or its daily cap), or undefined when it can. */
  block(name: string, now = Date.now()): AccountBlock | undefined {
    const p = this.ledger.paused(name, now);
    if (p) return { account: name, reason: p.reason, since: p.since, until: p.until };
    const cap = isImplicitAccount(name) ? undefined : capReached(this.caps(name, now).filter((c) => c.name !== "the project"));
    return cap ? { account: name, reason: capReason(cap), since: now, until: nextDayStart(now, this.config.project.timezone) } : undefined;
  }

  /** What blocks each of a slot's accounts now; empty when the slot can work. */
  slotBlocks(slot: AgentSlot, now = Date.now()): AccountBlock[] {
    const blocks: AccountBlock[] = [];
    for (const name of slotAccounts(slot)) {
      const b = this.block(name, now);
      if (!b) return [];
      blocks.push(b);
    }
    return blocks;
  }

  /** The account a slot would work with now, or undefined when every one of its accounts is blocked. */
  choose(slot: AgentSlot, now = Date.now()): string | undefined {
    return accountFor(slotAccounts(slot), (a) => this.block(a, now) !== undefined);
  }

  /** Why a run of `slot` may not start now (the project's cap, or no usable account), else undefined. */
  holdReason(slot: AgentSlot, now = Date.now()): string | undefined {
    const cap = this.projectCapReached(now);
    if (cap) return cap.reason;
    return this.usable(slot, now) ? undefined : `every account of slot ${slot.name} is paused or over its daily budget`;
  }

  usable(slot: AgentSlot, now = Date.now()): boolean {
    return this.choose(slot, now) !== undefined;
  }

  /** The slot as it runs with its current account, or undefined when none can work. */
  prepare(slot: AgentSlot, now = Date.now()): SlotWithAccount | undefined {
    const name = this.choose(slot, now);
    if (!name) return undefined;
    const a = this.account(name);
    const runtime = a?.runtime ?? slot.runtime;
    const model = a?.model ?? (runtime === slot.runtime ? slot.model : DEFAULT_MODELS[runtime as keyof typeof DEFAULT_MODELS]);
    const maxBudgetUsd = runBudget(slot.max_budget_usd, this.caps(isImplicitAccount(name) ? undefined : name, now));
    const effective: AgentSlot = {
      ...slot,
      runtime,
      model,
      env: [...new Set([...slot.env, ...(a?.env ?? [])])],
      price: a?.price ?? slot.price,
      max_budget_usd: maxBudgetUsd,
    };
    return { slot: effective, account: name, maxBudgetUsd };
  }

  /** A run on `account` hit its limit or lost its credentials: pause it (everywhere, for a named account). */
  trouble(
    account: string,
    t: { reason: string; resetsAt?: number; cause: "limit" | "credentials"; sameRun?: boolean },
    now = Date.now(),
  ): number {
    // The end of a run whose first sign was already counted is the same trouble, not one more in a row.
    const n = t.sameRun ? Math.max(1, this.inARow.get(account) ?? 0) : (this.inARow.get(account) ?? 0) + 1;
    this.inARow.set(account, n);
    const cfg = this.config.project;
    const until = resumeAt(
      now,
      n,
      { backoffMs: cfg.limit_backoff_secs * 1000, backoffMaxMs: cfg.limit_backoff_max_secs * 1000 },
      t.resetsAt,
    );
    this.ledger.pause(account, { reason: t.reason.slice(0, 500), since: now, until, cause: t.cause });
    return until;
  }

  /** A run on `account` worked: the next trouble starts the backoff over. */
  worked(account: string): void {
    this.inARow.delete(account);
  }

  /** Add a finished run's cost to today's spend. */
  spent(account: string, runtime: string, usd: number | undefined, now = Date.now()): void {
    if (usd !== undefined) this.ledger.recordSpend(this.day(now), account, runtime, usd);
  }

  /** Today's spend and the caps, for status, metrics and the board. */
  today(now = Date.now()) {
    return this.ledger.spentOn(this.day(now));
  }
}
