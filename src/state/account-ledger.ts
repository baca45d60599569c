import * as Y from "yjs";
import type { Logger } from "pino";
import type { Identity } from "../trust/identity.js";
import { ACCOUNT_PAUSE_KIND, ACCOUNTS_MAP, SPEND_KIND, SPEND_MAP, signLedger, verifyLedger } from "../trust/ledger-signatures.js";
import { mayWriteLedger } from "../trust/write-rights.js";
import { ACCOUNT_PAUSE_MAX_SECS } from "../config/defaults.js";
import { isImplicitAccount } from "../pipeline/account-rules.js";

/** Why an account takes no work: its usage limit, or its credentials. */
export interface AccountPause {
  reason: string;
  since: number;
  /** When it lifts by itself (the vendor's reset time, or a backoff). */
  until: number;
  cause: "limit" | "credentials";
  /** The node that saw it. */
  node: string;
}

/** Today's spend, summed over every node's signed entry. */
export interface SpendToday {
  day: string;
  total: number;
  accounts: Record<string, number>;
  runtimes: Record<string, number>;
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const ACCOUNT_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * The fleet-wide account ledger (issue 28): two document maps, purely additive (older nodes ignore
 * them). `accounts` holds, per account name, the latest pause a node saw (a usage limit or a
 * credential failure) with its reset time, signed by that node; every node's slots on that account
 * stop taking work until `until`, without failing first. `spend` holds, per node, what its runs
 * cost today by account and runtime, signed by that node; budgets sum it. Entries are validated on
 * read: unsigned, foreign-signed or malformed ones, and those the rights table (`mayWriteLedger`)
 * refuses, are ignored (one bad entry never stops a node). An older signed entry written again (a
 * replay) never says less than this reader saw: a pause never ends earlier, a node's spend of a
 * day never falls (both only grow as written).
 * Implicit accounts (a slot without `account`) never enter the document: they pause one slot here.
 */
export class AccountLedger {
  readonly accounts: Y.Map<unknown>;
  readonly spend: Y.Map<unknown>;
  private readonly local = new Map<string, AccountPause>();
  /** Listeners of local (implicit-account) pauses, which no document event announces. */
  private readonly localListeners = new Set<() => void>();
  private mine: { day: string; accounts: Record<string, number>; runtimes: Record<string, number>; total: number } | undefined;
  /** The latest verified pause seen per account, and each node's highest spend per day: replays say no less. */
  private readonly seenPause = new Map<string, AccountPause>();
  private readonly seenSpend = new Map<string, SpendToday>();

  constructor(
    doc: Y.Doc,
    private readonly identity: Identity,
    /** Whether a node id is a member whose entries count (a verified entry in `nodes`). */
    private readonly known: (nodeId: string) => boolean,
    private readonly log?: Logger,
  ) {
    this.accounts = doc.getMap(ACCOUNTS_MAP);
    this.spend = doc.getMap(SPEND_MAP);
  }

  /** Record that `account` cannot work until `until` (written for the whole fleet, or locally for an implicit one). */
  pause(account: string, given: Omit<AccountPause, "node">): void {
    // Never longer than the rights table lets readers act on (a reset further out is re-learnt then).
    const p = { ...given, until: Math.min(given.until, given.since + ACCOUNT_PAUSE_MAX_SECS * 1000) };
    if (isImplicitAccount(account)) {
      this.local.set(account, { ...p, node: this.identity.nodeId });
      for (const cb of this.localListeners) cb();
      return;
    }
    const current = this.paused(account, p.since);
    // Two nodes hitting the same limit: keep the later reset, write nothing that says less.
    if (current && current.until >= p.until) return;
    this.accounts.set(account, signLedger(this.identity, ACCOUNT_PAUSE_KIND, { ...p, account }));
    this.log?.warn({ account, reason: p.reason, until: p.until }, "account paused on every node");
  }

  /** The account's pause in force at `now`, if any. */
  paused(account: string, now = Date.now()): AccountPause | undefined {
    const p = isImplicitAccount(account) ? this.local.get(account) : this.read(account);
    return p && p.until > now ? p : undefined;
  }

  /** Every account with a pause in force (document and local). */
  pauses(now = Date.now()): Array<AccountPause & { account: string }> {
    const out: Array<AccountPause & { account: string }> = [];
    new Set([...this.accounts.keys(), ...this.seenPause.keys()]).forEach((name) => {
      const p = this.paused(name, now);
      if (p) out.push({ account: name, ...p });
    });
    for (const [name] of this.local) {
      const p = this.paused(name, now);
      if (p) out.push({ account: name, ...p });
    }
    return out;
  }

  private read(account: string): AccountPause | undefined {
    const seen = this.seenPause.get(account);
    const v = this.accounts.get(account);
    if (!isObj(v) || v.account !== account || typeof v.reason !== "string" || !finite(v.since) || !finite(v.until)) return seen;
    if (v.cause !== "limit" && v.cause !== "credentials") return seen;
    if (!verifyLedger(ACCOUNT_PAUSE_KIND, v) || !mayWriteLedger(ACCOUNTS_MAP, account, v, this.known).ok) return seen;
    if (seen && seen.until >= v.until) return seen;
    const p: AccountPause = { reason: v.reason.slice(0, 500), since: v.since, until: v.until, cause: v.cause, node: v.node };
    this.seenPause.set(account, p);
    return p;
  }

  /** Add a run's cost to this node's spend of `day` (one signed entry per node, rewritten). */
  recordSpend(day: string, account: string | undefined, runtime: string, usd: number): void {
    if (!(usd > 0)) return;
    if (this.mine?.day !== day) this.mine = this.ownEntry(day) ?? { day, accounts: {}, runtimes: {}, total: 0 };
    const m = this.mine;
    if (account) m.accounts[account] = round((m.accounts[account] ?? 0) + usd);
    m.runtimes[runtime] = round((m.runtimes[runtime] ?? 0) + usd);
    m.total = round(m.total + usd);
    this.spend.set(this.identity.nodeId, signLedger(this.identity, SPEND_KIND, { ...m, at: Date.now() }));
  }

  private ownEntry(day: string): AccountLedger["mine"] {
    const e = this.readSpend(this.identity.nodeId, this.spend.get(this.identity.nodeId));
    return e && e.day === day ? { day, accounts: { ...e.accounts }, runtimes: { ...e.runtimes }, total: e.total } : undefined;
  }

  /** A node's verified spend entry, or the highest this reader saw of that node and day. */
  private readSpend(key: string, v: unknown): SpendToday | undefined {
    const seen = this.seenSpend.get(key);
    const e = this.parseSpend(key, v);
    if (!e) return seen;
    if (seen && seen.day === e.day && seen.total >= e.total) return seen;
    // A replayed entry of an earlier day than the one seen says nothing about today.
    if (seen && seen.day > e.day) return seen;
    this.seenSpend.set(key, e);
    return e;
  }

  private parseSpend(key: string, v: unknown): SpendToday | undefined {
    if (!isObj(v) || typeof v.node !== "string" || typeof v.day !== "string" || !finite(v.total) || v.total < 0) return undefined;
    if (!verifyLedger(SPEND_KIND, v) || !mayWriteLedger(SPEND_MAP, key, { node: v.node }, this.known).ok) return undefined;
    const amounts = (o: unknown) => {
      const out: Record<string, number> = {};
      if (isObj(o))
        for (const [k, x] of Object.entries(o)) if (finite(x) && x >= 0 && (ACCOUNT_NAME.test(k) || k.startsWith("@"))) out[k] = x;
      return out;
    };
    return { day: v.day, total: v.total, accounts: amounts(v.accounts), runtimes: amounts(v.runtimes) };
  }

  /** What the fleet spent on `day`, over every node's verified entry (a deleted one counts as last seen). */
  spentOn(day: string): SpendToday {
    const sum: SpendToday = { day, total: 0, accounts: {}, runtimes: {} };
    const nodes = new Set([...this.spend.keys(), ...this.seenSpend.keys()]);
    nodes.forEach((node) => {
      const e = this.readSpend(node, this.spend.get(node));
      if (!e || e.day !== day) return;
      sum.total = round(sum.total + e.total);
      for (const [k, x] of Object.entries(e.accounts)) sum.accounts[k] = round((sum.accounts[k] ?? 0) + x);
      for (const [k, x] of Object.entries(e.runtimes)) sum.runtimes[k] = round((sum.runtimes[k] ?? 0) + x);
    });
    return sum;
  }

  /** Called on any change to the ledger, local or remote. */
  onChange(cb: () => void): () => void {
    const h = () => {
      try {
        cb();
      } catch (err) {
        this.log?.error({ err }, "ledger listener failed");
      }
    };
    this.accounts.observe(h);
    this.spend.observe(h);
    this.localListeners.add(h);
    return () => {
      this.localListeners.delete(h);
      this.accounts.unobserve(h);
      this.spend.unobserve(h);
    };
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
