import { Gauge, type Registry } from "prom-client";
import type { AccountsView } from "../server/operator-actions.js";

/**
 * `/metrics` for accounts and budgets (issue 28), computed at scrape time from the ledger:
 * `huskies_account_paused{account}` (1 paused, 0 working), `huskies_account_reset_seconds{account}`
 * (time to the reset of a paused account), `huskies_spend_today_usd{scope, name}` with scope
 * `project` (name `all`), `account` or `runtime`, and `huskies_daily_budget_usd{scope, name}`.
 */
export function registerAccountMetrics(registry: Registry, view: () => AccountsView): void {
  const registers = [registry];
  new Gauge({
    name: "huskies_account_paused",
    help: "Whether an account is paused fleet-wide (usage limit or credentials): 1 paused, 0 working",
    labelNames: ["account"],
    registers,
    collect() {
      this.reset();
      for (const a of view().accounts) this.set({ account: a.name }, a.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: "huskies_account_reset_seconds",
    help: "Seconds until a paused account's reset",
    labelNames: ["account"],
    registers,
    collect() {
      this.reset();
      for (const a of view().accounts) if (a.resetInSecs !== null) this.set({ account: a.name }, a.resetInSecs);
    },
  });
  new Gauge({
    name: "huskies_spend_today_usd",
    help: "Spend today (the project's timezone) across every node, by scope: project, account, runtime",
    labelNames: ["scope", "name"],
    registers,
    collect() {
      this.reset();
      const v = view();
      this.set({ scope: "project", name: "all" }, v.spentTodayUsd);
      for (const a of v.accounts) this.set({ scope: "account", name: a.name }, a.spentTodayUsd);
      for (const [rt, usd] of Object.entries(v.byRuntime)) this.set({ scope: "runtime", name: rt }, usd);
    },
  });
  new Gauge({
    name: "huskies_daily_budget_usd",
    help: "Daily budgets in force, by scope: project, account",
    labelNames: ["scope", "name"],
    registers,
    collect() {
      this.reset();
      const v = view();
      if (v.dailyBudgetUsd !== null) this.set({ scope: "project", name: "all" }, v.dailyBudgetUsd);
      for (const a of v.accounts) if (a.dailyBudgetUsd !== null) this.set({ scope: "account", name: a.name }, a.dailyBudgetUsd);
    },
  });
}
