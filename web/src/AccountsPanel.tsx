import { useEffect, useState } from "react";
import { timeLeft } from "../../src/pipeline/stuck-hint";
import type { AccountsView } from "../../src/state/accounts-view";
import { api } from "./use-pipeline";
import { useNow } from "./use-now";
import "./accounts-panel.css";

/**
 * How often the panel re-reads `/api/accounts`. Pauses and spend live in the document, but the
 * board cannot check their signatures nor knows the caps and accounts of `agents.toml`, so the
 * node's own view is fetched; countdowns tick locally in between.
 */
const REFRESH_MS = 2000;

const usd = (x: number) => `$${x.toFixed(2)}`;

/**
 * The node's view of accounts and budgets, undefined until the first answer. A failed read keeps
 * the last view (a blip does not blank the panel); a node that has none (an older release, no
 * token for a guarded board) shows no panel rather than an error in every sidebar.
 */
function useAccounts(): AccountsView | undefined {
  const [view, setView] = useState<AccountsView>();
  useEffect(() => {
    let live = true;
    const read = () =>
      api("GET", "/api/accounts").then(
        (v) => live && setView(v as AccountsView),
        () => undefined,
      );
    void read();
    const t = setInterval(() => void read(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  return view;
}

/**
 * Accounts and budgets (issue 28): each account's state and time to its reset, today's spend per
 * account and per runtime, and, when the project's daily budget is reached, why no story starts.
 * Shown only for a project that has accounts, a daily budget or spend today.
 */
export function AccountsPanel() {
  const v = useAccounts();
  const now = useNow(1000);
  if (!v || (!v.accounts.length && v.dailyBudgetUsd === null && v.spentTodayUsd === 0)) return null;
  const runtimes = Object.entries(v.byRuntime);
  return (
    <section className="accounts" aria-label="accounts">
      <h2>accounts</h2>
      <span className="spend" data-testid="spend-today">
        spent today {usd(v.spentTodayUsd)}
        {v.dailyBudgetUsd !== null && ` of ${usd(v.dailyBudgetUsd)}`}{" "}
        <span className="muted">
          ({v.day} {v.timezone})
        </span>
      </span>
      {v.capReached && (
        <span className="cap" role="alert">
          No new stories: {v.capReached}
          {v.capUntil !== null && ` · resumes ${timeLeft(v.capUntil, now)}`}
        </span>
      )}
      <ul>
        {v.accounts.map((a) => {
          const paused = a.paused && a.paused.until > now ? a.paused : null;
          return (
            <li key={a.name} data-account={a.name} aria-label={`account ${a.name}`}>
              <div className="account-head">
                <strong>{a.name}</strong> <span className="muted">{a.runtime ?? "?"}</span>
                <span className={`state ${paused ? "state-paused" : ""}`}>{paused ? "paused" : "ok"}</span>
              </div>
              {paused && (
                <span className="paused">
                  {paused.reason.split("\n")[0]} · resets {timeLeft(paused.until, now)}
                </span>
              )}
              <span className="muted">
                {usd(a.spentTodayUsd)}
                {a.dailyBudgetUsd !== null && ` of ${usd(a.dailyBudgetUsd)}`} today
              </span>
            </li>
          );
        })}
      </ul>
      {runtimes.length > 0 && (
        <span className="by-runtime muted" data-testid="spend-by-runtime">
          by runtime: {runtimes.map(([r, x]) => `${r} ${usd(x)}`).join(" · ")}
        </span>
      )}
    </section>
  );
}
