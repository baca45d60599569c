import type { Item, NodeEntry } from "../state/item.js";
import type { NodeView, PipelineView } from "../server/operator-actions.js";
import { STAGES } from "../pipeline/stages.js";
import { releaseBehind } from "../pipeline/compatibility.js";

export function describeItem(i: Item): string {
  const tags = [
    i.claim ? `claimed by ${i.claim.node.slice(0, 8)}#${i.claim.epoch}` : "",
    i.retries ? `retries ${i.retries}` : "",
    i.blocked ? `BLOCKED: ${i.blocked}` : "",
    // A coder's question: the story waits for `huskies story answer ID TEXT`.
    i.question && i.question.answer === undefined ? `NEEDS A PERSON: ${i.question.text.split("\n")[0]!.slice(0, 120)}` : "",
    // The runtime's own words (`Not logged in · Please run /login`, a usage limit), not a paraphrase.
    i.lastRun?.error && i.lastRun.outcome !== "done"
      ? `last run ${i.lastRun.outcome ?? "failed"}: ${i.lastRun.error.split("\n")[0]!.slice(0, 120)}`
      : "",
  ].filter(Boolean);
  return `${i.id}  ${i.name}${tags.length ? `  [${tags.join(", ")}]` : ""}`;
}

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** The newest release any node of the fleet runs: a node behind it is marked. */
export function newestRelease(nodes: readonly NodeEntry[]): string | undefined {
  let newest: string | undefined;
  for (const n of nodes) if (n.version && (!newest || releaseBehind(newest, n.version))) newest = n.version;
  return newest;
}

function describeRelease(n: NodeEntry, newest: string | undefined): string {
  if (!n.version) return "release unknown (before 0.3.0)";
  const behind = newest && releaseBehind(n.version, newest) ? ` BEHIND ${newest}` : "";
  return `huskies ${n.version}${n.protocol ? ` p${n.protocol}` : ""}${behind}`;
}

/**
 * One line per node. Liveness is the server's judgement (when it last received the node's
 * heartbeat, on its own clock), never this machine's clock against the node's `lastSeen`.
 */
export function describeNode(n: NodeView | NodeEntry, now = Date.now(), newest?: string): string {
  const l = (n as NodeView).liveness;
  const heard = l ? (l.heardSecsAgo === null ? "not heard since the server started" : `heard ${age(l.heardSecsAgo * 1000)} ago`) : "";
  const state = !n.alive ? "stopped" : l ? `${l.alive ? "alive" : "not alive"}, ${heard}` : `alive, seen ${age(now - n.lastSeen)} ago`;
  const skew =
    l?.clockOffsetSecs !== undefined
      ? `  CLOCK ${Math.abs(l.clockOffsetSecs)}s ${l.clockOffsetSecs > 0 ? "ahead of" : "behind"} the server's`
      : "";
  const paused = n.paused
    ? `  PAUSED: ${n.paused.reason}${n.paused.until ? ` (resumes in ${age(Math.max(0, n.paused.until - now))})` : " (until resumed)"}`
    : "";
  const kept = (n.keptWorktrees ?? []).map((w) => `\n    kept worktree ${w.id} (${w.state})`).join("");
  return `${n.id.slice(0, 12)}  ${n.label}  ${n.role}  ${describeRelease(n, newest)}  ${state}  ${n.address}${skew}${paused}${kept}`;
}

export function describePipeline(v: PipelineView): string {
  const lines: string[] = [];
  if (v.release) {
    const r = v.release;
    lines.push(
      `server: huskies ${r.version}, protocol ${r.protocol} (works with ${r.minProtocol}–${r.protocol}), document schema ${r.schema ?? "unreadable"} (understands ${r.supportedSchema})`,
    );
  }
  for (const stage of STAGES) {
    const items = v.stages[stage];
    lines.push(`${stage} (${items.length})`);
    for (const i of items) lines.push(`  ${describeItem(i)}`);
  }
  lines.push(`nodes (${v.nodes.length})`);
  const newest = newestRelease(v.nodes);
  for (const n of v.nodes) lines.push(`  ${describeNode(n, Date.now(), newest)}`);
  if (v.accounts && (v.accounts.accounts.length || v.accounts.dailyBudgetUsd !== null || v.accounts.spentTodayUsd > 0))
    lines.push(...describeAccounts(v.accounts));
  return lines.join("\n");
}

/** Accounts and spend: "accounts (spent today $1.23 of $10.00, UTC)", then one line each. */
export function describeAccounts(a: NonNullable<PipelineView["accounts"]>): string[] {
  const cap = a.dailyBudgetUsd !== null ? ` of $${a.dailyBudgetUsd.toFixed(2)}` : "";
  const lines = [
    `accounts (spent today $${a.spentTodayUsd.toFixed(2)}${cap}, ${a.day} ${a.timezone})${a.capReached ? ` — ${a.capReached}: no new stories` : ""}`,
  ];
  for (const x of a.accounts) {
    const state = x.paused
      ? `paused (${x.paused.reason.split("\n")[0]!.slice(0, 100)}), resets in ${Math.ceil((x.resetInSecs ?? 0) / 60)} min`
      : "ok";
    const budget = x.dailyBudgetUsd !== null ? ` of $${x.dailyBudgetUsd.toFixed(2)}` : "";
    lines.push(`  ${x.name} (${x.runtime ?? "?"}): ${state}; $${x.spentTodayUsd.toFixed(2)}${budget} today`);
  }
  const runtimes = Object.entries(a.byRuntime);
  if (runtimes.length) lines.push(`  by runtime: ${runtimes.map(([r, usd]) => `${r} $${usd.toFixed(2)}`).join(", ")}`);
  return lines;
}
