import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { accountFor, isAccountTrouble, nodePauseFromBlocks, nodePausedBySlots, slotAccounts } from "../../src/pipeline/account-rules.js";
import { capReached, dayKey, nextDayStart, runBudget, tokenCost } from "../../src/pipeline/budget-rules.js";
import { AccountLedger } from "../../src/state/account-ledger.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { agentsSchema } from "../../src/config/agents-config.js";
import { projectSchema } from "../../src/config/project-config.js";
import { LiveConfig } from "../../src/config/live-config.js";
import { SlotAccounts } from "../../src/agent/slot-accounts.js";

describe("budget rules", () => {
  it("prices tokens per million, cached input at its own price", () => {
    expect(
      tokenCost({ input: 1_000_000, output: 100_000, cached: 1_000_000 }, { input: 1.25, output: 10, cached_input: 0.125 }),
    ).toBeCloseTo(2.375);
    expect(tokenCost({ input: 0, output: 0, cached: 2_000_000 }, { input: 2, output: 8 })).toBeCloseTo(4);
  });

  it("counts the day in the project's zone and finds the next midnight there", () => {
    const t = Date.UTC(2026, 11, 4, 23, 30);
    expect(dayKey(t, "UTC")).toBe("2026-12-04");
    expect(dayKey(t, "Europe/Berlin")).toBe("2026-12-05");
    expect(nextDayStart(t, "UTC")).toBe(Date.UTC(2026, 11, 5));
    expect(nextDayStart(t, "Europe/Berlin")).toBe(Date.UTC(2026, 11, 5, 23));
  });

  it("a reached cap holds new stories; a run's budget is what the caps leave", () => {
    const caps = [
      { name: "the project", limitUsd: 10, spentUsd: 7 },
      { name: "account a", limitUsd: 5, spentUsd: 5 },
    ];
    expect(capReached(caps)?.name).toBe("account a");
    expect(runBudget(2, caps.slice(0, 1))).toBe(2);
    expect(runBudget(undefined, caps.slice(0, 1))).toBe(3);
    expect(runBudget(undefined, [])).toBeUndefined();
  });
});

describe("account rules", () => {
  it("a slot falls back in order; a slot without accounts has one of its own", () => {
    expect(slotAccounts({ name: "c1" })).toEqual(["@c1"]);
    expect(accountFor(["a", "b"], (n) => n === "a")).toBe("b");
    expect(accountFor(["a", "b"], () => true)).toBeUndefined();
  });

  it("limits and credentials are the account's trouble, a missing binary is the node's", () => {
    expect(isAccountTrouble({ outcome: "node_failure", accountTrouble: "limit" })).toBe(true);
    expect(isAccountTrouble({ outcome: "node_failure", reason: "five-hour usage limit reached" })).toBe(true);
    expect(isAccountTrouble({ outcome: "node_failure", reason: "not logged in" })).toBe(true);
    expect(isAccountTrouble({ outcome: "node_failure", reason: "the runtime could not be started" })).toBe(false);
    expect(isAccountTrouble({ outcome: "story_failure", reason: "usage limit" })).toBe(false);
  });

  it("a node is paused only when every slot is", () => {
    expect(nodePausedBySlots([{ usable: false }, { usable: true }])).toBe(false);
    expect(nodePausedBySlots([{ usable: false }, { usable: false }])).toBe(true);
    expect(nodePausedBySlots([])).toBe(false);
  });

  it("a node paused by one account shows that account's own reason; by several, names each once", () => {
    const login = { account: "@claude-1", reason: "Not logged in · Please run /login", since: 5, until: 900 };
    expect(nodePauseFromBlocks([login])).toEqual({ reason: "Not logged in · Please run /login", since: 5, until: 900 });
    const team = { account: "team", reason: "You've hit your usage limit", since: 7, until: 600 };
    expect(nodePauseFromBlocks([team, team])?.reason).toBe("account team: You've hit your usage limit");
    const both = nodePauseFromBlocks([login, team, team])!;
    expect(both.reason).toBe(
      "every slot's account is paused: @claude-1 (Not logged in · Please run /login); team (You've hit your usage limit)",
    );
    expect(both).toMatchObject({ since: 5, until: 600 });
    expect(nodePauseFromBlocks([])).toBeUndefined();
  });
});

describe("the account ledger", () => {
  const two = () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    a.on("update", (u: Uint8Array) => Y.applyUpdate(b, u));
    b.on("update", (u: Uint8Array) => Y.applyUpdate(a, u));
    const ia = ephemeralIdentity();
    const ib = ephemeralIdentity();
    const members = new Set([ia.nodeId, ib.nodeId]);
    return { a: new AccountLedger(a, ia, (id) => members.has(id)), b: new AccountLedger(b, ib, (id) => members.has(id)), docB: b, ia, ib };
  };

  it("a pause written by one node holds on another until its reset, then lifts by itself", () => {
    const { a, b, ia } = two();
    const now = 1_800_000_000_000;
    a.pause("team", { reason: "usage limit reached", since: now, until: now + 60_000, cause: "limit" });
    expect(b.paused("team", now + 1)).toMatchObject({ reason: "usage limit reached", node: ia.nodeId, until: now + 60_000 });
    expect(b.paused("team", now + 60_000)).toBeUndefined();
  });

  it("an unsigned, forged or non-member entry is ignored", () => {
    const { b, docB } = two();
    const now = 1_800_000_000_000;
    docB
      .getMap("accounts")
      .set("team", { account: "team", reason: "x", since: now, until: now + 1e6, cause: "limit", node: "ab".repeat(32), sig: "00" });
    expect(b.paused("team", now)).toBeUndefined();
    const stranger = new AccountLedger(new Y.Doc(), ephemeralIdentity(), () => true);
    stranger.pause("team", { reason: "x", since: now, until: now + 1e6, cause: "limit" });
    docB.getMap("accounts").set("team", stranger.accounts.get("team"));
    expect(b.paused("team", now)).toBeUndefined();
  });

  it("spend is summed over nodes for the day, by account and runtime", () => {
    const { a, b } = two();
    a.recordSpend("2026-12-04", "team", "codex", 1.5);
    a.recordSpend("2026-12-04", "team", "codex", 0.5);
    b.recordSpend("2026-12-04", "other", "gemini", 2);
    b.recordSpend("2026-12-03", "other", "gemini", 9);
    expect(a.spentOn("2026-12-04")).toEqual({ day: "2026-12-04", total: 2, accounts: { team: 2 }, runtimes: { codex: 2 } });
  });

  it("implicit accounts stay on their node", () => {
    const { a, b } = two();
    a.pause("@coder-1", { reason: "limit", since: 0, until: 1e15, cause: "limit" });
    expect(a.paused("@coder-1", 1)).toBeDefined();
    expect(b.paused("@coder-1", 1)).toBeUndefined();
    expect(a.accounts.size).toBe(0);
  });
});

describe("a node's slots and their accounts", () => {
  const setup = (project: Record<string, unknown> = {}) => {
    const config = new LiveConfig("/nonexistent", {
      project: projectSchema.parse({ limit_backoff_secs: 60, ...project }),
      agents: agentsSchema.parse({
        account: [
          { name: "claude-team", runtime: "claude-code", daily_budget_usd: 5 },
          { name: "codex-team", runtime: "codex", env: ["OPENAI_API_KEY"] },
        ],
        agent: [{ name: "c1", accounts: ["claude-team", "codex-team"], max_budget_usd: 3 }],
      }),
    });
    const id = ephemeralIdentity();
    const ledger = new AccountLedger(new Y.Doc(), id, (n) => n === id.nodeId);
    return { accounts: new SlotAccounts(ledger, config), slot: config.agents.agent[0]!, ledger };
  };
  const now = Date.UTC(2026, 11, 4, 12);

  it("runs with the first usable account, folded into the slot; falls back while it is paused", () => {
    const { accounts, slot } = setup();
    expect(accounts.prepare(slot, now)).toMatchObject({ account: "claude-team", slot: { runtime: "claude-code" }, maxBudgetUsd: 3 });
    accounts.trouble("claude-team", { reason: "usage limit", resetsAt: now + 3600_000, cause: "limit" }, now);
    const next = accounts.prepare(slot, now + 1)!;
    expect(next).toMatchObject({ account: "codex-team", slot: { runtime: "codex", model: "gpt-5-codex" } });
    expect(next.slot.env).toContain("OPENAI_API_KEY");
    expect(accounts.prepare(slot, now + 3600_000)?.account).toBe("claude-team");
  });

  it("a run's trouble counts once in a row: the backoff doubles per run, not per sign", () => {
    const { accounts } = setup();
    const first = accounts.trouble("codex-team", { reason: "401", cause: "credentials" }, now);
    const sameRun = accounts.trouble("codex-team", { reason: "401", cause: "credentials", sameRun: true }, now);
    expect(first - now).toBe(60_000);
    expect(sameRun - now).toBe(60_000);
    expect(accounts.trouble("codex-team", { reason: "401", cause: "credentials" }, now) - now).toBe(120_000);
  });

  it("a reached account cap skips the account; a reached project cap holds every run back until midnight", () => {
    const { accounts, slot, ledger } = setup({ daily_budget_usd: 10 });
    ledger.recordSpend("2026-12-04", "claude-team", "claude-code", 5);
    expect(accounts.prepare(slot, now)).toMatchObject({ account: "codex-team", maxBudgetUsd: 3 });
    ledger.recordSpend("2026-12-04", "codex-team", "codex", 4);
    expect(accounts.prepare(slot, now)?.maxBudgetUsd).toBe(1);
    expect(accounts.holdReason(slot, now)).toBeUndefined();
    ledger.recordSpend("2026-12-04", "codex-team", "codex", 1);
    expect(accounts.holdReason(slot, now)).toBe("daily budget of the project reached ($10.00 of $10.00 today)");
    expect(accounts.projectCapReached(now)?.until).toBe(Date.UTC(2026, 11, 5));
    // The next day counts afresh.
    expect(accounts.holdReason(slot, Date.UTC(2026, 11, 5, 0, 1))).toBeUndefined();
  });
});

describe("config", () => {
  it("accounts are checked: unknown names, both keys, a command slot with an account", () => {
    const ok = agentsSchema.safeParse({
      account: [
        { name: "claude-team", runtime: "claude-code", env: ["ANTHROPIC_API_KEY"] },
        { name: "codex-team", runtime: "codex", daily_budget_usd: 20 },
      ],
      agent: [{ name: "c1", accounts: ["claude-team", "codex-team"] }],
    });
    expect(ok.success).toBe(true);
    expect(agentsSchema.safeParse({ agent: [{ name: "c1", account: "nope" }] }).error?.issues[0]?.message).toMatch(
      /no \[\[account\]\] named `nope`/,
    );
    expect(
      agentsSchema.safeParse({
        account: [{ name: "x", runtime: "codex" }],
        agent: [{ name: "c1", runtime: "command", command: "sh", account: "x" }],
      }).success,
    ).toBe(false);
  });

  it("timezone must be a real zone", () => {
    expect(projectSchema.parse({}).timezone).toBe("UTC");
    expect(projectSchema.safeParse({ timezone: "Mars/Olympus" }).success).toBe(false);
    expect(projectSchema.parse({ daily_budget_usd: 25, timezone: "Europe/Berlin" }).daily_budget_usd).toBe(25);
  });
});
