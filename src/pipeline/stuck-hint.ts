import type { QaMode } from "./qa-modes.js";
import type { Stage } from "./stages.js";

/**
 * Why nothing will take an item as things stand, in one sentence, or undefined when something can
 * (or the item is not waiting for a node at all). The board shows it on the card so a story sitting
 * in `qa` with no QA slot anywhere says so instead of waiting silently.
 *
 * Pure, and free of imports with a runtime, so the board bundles it as it is.
 */

type SlotRole = "coder" | "qa" | "mergemaster";

export interface StuckItem {
  stage: Stage;
  claim: { node: string } | null;
  blocked: string | null;
  qa?: QaMode;
  /** Held back by the rendezvous: it overlaps a story in flight (issue 29.2). */
  overlaps?: { story: string; path: string };
}

export interface StuckNode {
  id: string;
  label?: string;
  alive: boolean;
  lastSeen: number;
  capacity?: Partial<Record<SlotRole, number>>;
  /** A paused node takes no new work; `until` null is a manual pause. */
  paused?: { reason: string; since: number; until: number | null } | null;
}

export interface StuckConfig {
  /** `node_alive_secs` in ms: a node that heartbeated more recently is live. */
  nodeAliveMs: number;
  /** `default_qa` of the project: the QA mode of items that name none; undefined when not known. */
  defaultQa?: QaMode;
}

const ROLE_OF: Partial<Record<Stage, SlotRole>> = { current: "coder", qa: "qa", merge: "mergemaster" };
const SLOT_NAME: Record<SlotRole, string> = { coder: "coder", qa: "QA", mergemaster: "mergemaster" };

export function isLive(n: StuckNode, now: number, nodeAliveMs: number): boolean {
  return n.alive && now - n.lastSeen <= nodeAliveMs;
}

export function isPaused(n: StuckNode, now: number): boolean {
  return !!n.paused && (n.paused.until === null || n.paused.until > now);
}

/** "in 12m", "in 2h 05m", or "until resumed" for a manual pause. */
export function timeLeft(until: number | null, now: number): string {
  if (until === null) return "until resumed";
  const s = Math.max(0, Math.round((until - now) / 1000));
  if (s < 120) return `in ${s}s`;
  if (s < 7200) return `in ${Math.round(s / 60)}m`;
  return `in ${Math.floor(s / 3600)}h ${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;
}

const name = (n: StuckNode) => n.label ?? n.id.slice(0, 8);

export function whyStuck(item: StuckItem, nodes: readonly StuckNode[], now: number, cfg: StuckConfig): string | undefined {
  // A blocked item already says why on its card.
  if (item.blocked) return undefined;
  const role = ROLE_OF[item.stage];
  if (!role) return undefined;
  if (!item.claim && item.overlaps) return `waits: overlaps ${item.overlaps.story} on ${item.overlaps.path}`;
  if (item.claim) {
    const holder = nodes.find((n) => n.id === item.claim!.node);
    if (holder && isLive(holder, now, cfg.nodeAliveMs)) return undefined;
    return `its holder ${holder ? name(holder) : item.claim.node.slice(0, 8)} is not alive: another node takes it once the claim times out`;
  }
  if (role === "qa") {
    const mode = item.qa ?? cfg.defaultQa;
    // Without the mode (a board that could not read the project's setting) there is nothing sure to say.
    if (mode === undefined) return undefined;
    if (mode === "human") return "waiting for a person: QA is human (move it to merge, or back to current with a reason)";
    if (mode === "server") return "nothing moves it on: QA is server, done by the coder's gates (move it to merge or back to current)";
  }
  const withSlot = nodes.filter((n) => (n.capacity?.[role] ?? 0) > 0);
  const live = withSlot.filter((n) => isLive(n, now, cfg.nodeAliveMs));
  const slot = SLOT_NAME[role];
  if (live.length === 0) {
    if (withSlot.length === 0) return `no node has a ${slot} slot: add an [[agent]] with role = "${role}" to a node's agents.toml`;
    return `no live node has a ${slot} slot (${withSlot.length === 1 ? `${name(withSlot[0]!)} is` : `${withSlot.length} nodes with one are`} offline)`;
  }
  const working = live.filter((n) => !isPaused(n, now));
  if (working.length === 0) {
    const p = live[0]!;
    const until = p.paused!.until;
    const why = `${name(p)}: ${p.paused!.reason}, ${until === null ? "until resumed by hand" : `resumes ${timeLeft(until, now)}`}`;
    return `every live node with a ${slot} slot is paused (${why}${live.length > 1 ? `, and ${live.length - 1} more` : ""})`;
  }
  return undefined;
}
