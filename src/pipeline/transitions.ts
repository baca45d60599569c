import type { Stage } from "./stages.js";

/**
 * Who moves items. `operator` is a person (CLI, REST, board, MCP); `system` is huskies itself
 * (auto-promotion, server QA, archiving); the rest are agent slot roles.
 */
export type Actor = "operator" | "system" | "coder" | "qa" | "mergemaster";

/** What the mover knows when asking for a transition; guards read only this. */
export interface TransitionContext {
  actor: Actor;
  /** Commits on the feature branch that the base branch does not have. */
  commitsAhead?: number;
  mergeCommit?: string;
  reason?: string;
  /** A conflict round (issue 29.1): the mergemaster hands the story back to its coder to integrate the base. */
  conflictRound?: number;
}

export type TransitionName = "promote" | "submit" | "approve" | "conflict" | "rework" | "merged" | "archive" | "demote" | "reopen";

interface Rule {
  name: TransitionName;
  from: readonly Stage[];
  to: Stage;
  actors: readonly Actor[];
  guard?: (ctx: TransitionContext) => string | undefined;
}

const ANY: readonly Stage[] = ["backlog", "current", "qa", "merge", "done", "archived"];

/**
 * The transition table. Two lessons from huskies are encoded here:
 * - Entering `current` is work assignment. Agents never do it as a side effect of starting up
 *   (huskies bug 502: QA/merge slots moved stories back to `current` on start, an endless loop).
 *   Into `current` goes only: promotion by an operator or the system, a coder taking the item
 *   back, an explicit `rework` that names its reason and counts as a retry, or a `conflict` round:
 *   the mergemaster hands a story whose squash conflicts back to its coder, with the round's number
 *   and the reason (not a retry: integrating the base is not a failed attempt).
 * - `merge` needs at least one commit ahead and `done` needs a merge commit: "merged nothing"
 *   must never look like success.
 */
export const TRANSITIONS: readonly Rule[] = [
  { name: "promote", from: ["backlog"], to: "current", actors: ["operator", "system", "coder"] },
  { name: "submit", from: ["current"], to: "qa", actors: ["coder", "operator"] },
  {
    name: "approve",
    from: ["qa"],
    to: "merge",
    actors: ["qa", "system", "operator"],
    guard: (c) => ((c.commitsAhead ?? 0) >= 1 ? undefined : "merge needs at least one commit ahead of the base branch"),
  },
  {
    name: "conflict",
    from: ["merge"],
    to: "current",
    actors: ["mergemaster"],
    guard: (c) =>
      !c.conflictRound || !Number.isInteger(c.conflictRound) || c.conflictRound < 1
        ? "a conflict round needs its number"
        : c.reason?.trim()
          ? undefined
          : "a conflict round needs a reason",
  },
  {
    name: "rework",
    from: ["qa", "merge", "done"],
    to: "current",
    actors: ["qa", "mergemaster", "operator", "coder"],
    guard: (c) => (c.reason?.trim() ? undefined : "sending work back needs a reason"),
  },
  {
    name: "merged",
    from: ["merge"],
    to: "done",
    actors: ["mergemaster", "operator"],
    guard: (c) => (c.mergeCommit && /^[0-9a-f]{7,64}$/.test(c.mergeCommit) ? undefined : "done needs a merge commit"),
  },
  { name: "archive", from: ANY.filter((s) => s !== "archived"), to: "archived", actors: ["system", "operator"] },
  { name: "demote", from: ["current", "qa", "merge", "done"], to: "backlog", actors: ["operator"] },
  { name: "reopen", from: ["archived"], to: "backlog", actors: ["operator"] },
];

export type TransitionResult = { ok: true; name: TransitionName } | { ok: false; error: string };

/** Decide whether `actor` may move an item from `from` to `to`. Pure. */
export function checkTransition(from: Stage, to: Stage, ctx: TransitionContext): TransitionResult {
  if (from === to) return { ok: false, error: `already in ${to}` };
  const candidates = TRANSITIONS.filter((r) => r.to === to && r.from.includes(from));
  if (candidates.length === 0) return { ok: false, error: `no transition from ${from} to ${to}` };
  const byActor = candidates.filter((r) => r.actors.includes(ctx.actor));
  if (byActor.length === 0) return { ok: false, error: `a ${ctx.actor} may not move an item from ${from} to ${to}` };
  let lastError = "";
  for (const rule of byActor) {
    const err = rule.guard?.(ctx);
    if (!err) return { ok: true, name: rule.name };
    lastError = err;
  }
  return { ok: false, error: lastError };
}
