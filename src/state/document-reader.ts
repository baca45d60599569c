import * as Y from "yjs";
import type { Claim } from "../pipeline/claim-rules.js";
import { isItemId, isItemType } from "../pipeline/item-id.js";
import { isStage } from "../pipeline/stages.js";
import { QA_MODES } from "../pipeline/qa-modes.js";
import { readReview } from "../pipeline/review.js";
import { isFailureKind, kindOfFailureText } from "../pipeline/failure-kind.js";
import { MAX_NOTE_CHARS } from "../config/defaults.js";
import { MAX_TICK_REQUESTS, readTickRequest, type TickRequest } from "../pipeline/tick-request.js";
import type { Failure, Item, LastRun, NodeEntry, PauseState, Progress, QaMode, Question, RunOutcomeKind } from "./item.js";
import type { FieldSource } from "./write-authority.js";

/**
 * The one place where document values become typed items and nodes. The document is shared with
 * any Yjs client and any admitted replica, so every value is checked here; a malformed entry is
 * skipped (reported to `onMalformed`), never thrown: one bad entry must not stop a process, and a
 * persisted bad entry must not make every restart crash.
 */

export const NODE_ID_PATTERN = /^[0-9a-f]{64}$/;

export function isNodeId(v: unknown): v is string {
  return typeof v === "string" && NODE_ID_PATTERN.test(v);
}

export type Malformed = (map: "items" | "nodes" | "meta", key: string, why: string) => void;

const OUTCOMES: readonly RunOutcomeKind[] = ["done", "story_failure", "node_failure", "lost"];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown, fallback = 0): number => (finite(v) ? v : fallback);

export function readClaim(v: unknown): Claim | null | undefined {
  if (v === null || v === undefined) return null;
  if (!isObject(v) || !isNodeId(v.node) || !finite(v.at) || !Number.isInteger(v.epoch) || !isStage(v.stage)) return undefined;
  return { node: v.node, at: v.at, epoch: v.epoch as number, stage: v.stage };
}

function readLastRun(v: unknown): LastRun | undefined {
  if (!isObject(v)) return undefined;
  const outcome = OUTCOMES.includes(v.outcome as RunOutcomeKind) ? (v.outcome as RunOutcomeKind) : undefined;
  return {
    node: str(v.node) ?? "",
    slot: str(v.slot) ?? "",
    turns: finite(v.turns) ? v.turns : undefined,
    costUsd: finite(v.costUsd) ? v.costUsd : undefined,
    durationMs: num(v.durationMs),
    exit: finite(v.exit) ? v.exit : null,
    ...(str(v.error) !== undefined ? { error: str(v.error) } : {}),
    ...(str(v.sessionId) !== undefined ? { sessionId: str(v.sessionId) } : {}),
    ...(outcome ? { outcome } : {}),
    ...(typeof v.runtime === "string" && /^[a-z0-9_-]{1,40}$/.test(v.runtime) ? { runtime: v.runtime } : {}),
    ...(typeof v.account === "string" && /^[A-Za-z0-9_.-]{1,40}$/.test(v.account) ? { account: v.account } : {}),
  };
}

/**
 * `{kind, message}` (schema 2); the plain text an older release wrote (schema 1, or an old node
 * still writing into a migrated document) reads as the kind its wording names.
 */
export function readFailure(v: unknown): Failure | undefined {
  if (typeof v === "string") return { kind: kindOfFailureText(v), message: v };
  if (!isObject(v) || typeof v.message !== "string") return undefined;
  return { kind: isFailureKind(v.kind) ? v.kind : "other", message: v.message };
}

/** A coder's question: text and time required; anything else of the wrong shape is dropped. */
export function readQuestion(v: unknown): Question | undefined {
  if (!isObject(v) || typeof v.text !== "string" || !v.text.trim() || !finite(v.askedAt)) return undefined;
  const answer = typeof v.answer === "string" ? v.answer.slice(0, MAX_NOTE_CHARS) : undefined;
  return {
    text: v.text.slice(0, MAX_NOTE_CHARS),
    askedAt: v.askedAt,
    node: isNodeId(v.node) ? v.node : "",
    slot: str(v.slot)?.slice(0, 40) ?? "",
    ...(typeof v.sessionId === "string" && /^[A-Za-z0-9_-]{1,100}$/.test(v.sessionId) ? { sessionId: v.sessionId } : {}),
    ...(answer !== undefined ? { answer, ...(finite(v.answeredAt) ? { answeredAt: v.answeredAt } : {}) } : {}),
  };
}

export function readProgress(v: unknown): Progress | undefined {
  if (!isObject(v) || typeof v.text !== "string" || !finite(v.at)) return undefined;
  return { text: v.text.slice(0, MAX_NOTE_CHARS), at: v.at };
}

/** At most a handful of node ids: the breaker needs two. */
function readTroubledNodes(v: unknown): { troubledNodes?: string[] } {
  if (!Array.isArray(v)) return {};
  const ids = v.filter(isNodeId).slice(0, 16);
  return ids.length ? { troubledNodes: ids } : {};
}

/** The requests of an item: node id → ms; anything else in the map is ignored. */
export function readRequests(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v instanceof Y.Map)
    v.forEach((at, node) => {
      if (isNodeId(node) && finite(at)) out[node] = at;
    });
  return out;
}

/** Requests of the right shape (the rendezvous checks signatures); absent when there are none. */
function readTickRequests(v: unknown): Record<string, TickRequest> | undefined {
  if (!(v instanceof Y.Map) || v.size === 0) return undefined;
  const out: Record<string, TickRequest> = {};
  let n = 0;
  v.forEach((raw, key) => {
    const r = readTickRequest(raw);
    if (r && n++ < MAX_TICK_REQUESTS * 2) out[key] = r;
  });
  return n ? out : undefined;
}

/** An item, or undefined (reported) when the entry is not a well-formed item. */
export function readItem(id: string, value: unknown, malformed?: Malformed): Item | undefined {
  if (!isItemId(id)) return void malformed?.("items", id, "invalid item id");
  if (!(value instanceof Y.Map)) return void malformed?.("items", id, "not a map");
  return readItemFields(id, value as Y.Map<unknown>, malformed);
}

/**
 * An item from a source of its fields: the item's map, or the verified view of it (signed
 * groups that do not verify read at their last valid values; see src/trust/item-authority.ts).
 */
export function readItemFields(id: string, m: FieldSource, malformed?: Malformed): Item | undefined {
  const stage = m.get("stage");
  const type = m.get("type");
  if (!isStage(stage)) return void malformed?.("items", id, "missing or invalid stage");
  if (!isItemType(type)) return void malformed?.("items", id, "missing or invalid type");
  const claim = readClaim(m.get("claim"));
  if (claim === undefined) malformed?.("items", id, "invalid claim (treated as unclaimed)");
  const qa = m.get("qa");
  const deps = m.get("dependsOn");
  const lastRun = readLastRun(m.get("lastRun"));
  const rawReview = m.get("review");
  const review = rawReview === undefined || rawReview === null ? undefined : readReview(rawReview);
  if (rawReview !== undefined && rawReview !== null && !review) malformed?.("items", id, "invalid review (ignored)");
  return {
    id,
    name: str(m.get("name")) ?? id,
    type,
    stage,
    body: str(m.get("body")) ?? "",
    createdAt: num(m.get("createdAt")),
    stageAt: num(m.get("stageAt"), num(m.get("createdAt"))),
    claim: claim ?? null,
    epoch: Math.max(0, Math.trunc(num(m.get("epoch")))),
    requests: readRequests(m.get("requests")),
    retries: Math.max(0, Math.trunc(num(m.get("retries")))),
    blocked: str(m.get("blocked")) ?? null,
    dependsOn: Array.isArray(deps) ? deps.filter(isItemId) : [],
    qa: QA_MODES.includes(qa as QaMode) ? (qa as QaMode) : undefined,
    branch: str(m.get("branch")),
    mergeCommit: str(m.get("mergeCommit")),
    lastRun,
    failure: readFailure(m.get("failure")),
    ...readTroubledNodes(m.get("troubledNodes")),
    logNode: isNodeId(m.get("logNode")) ? (m.get("logNode") as string) : undefined,
    ...(review ? { review } : {}),
    ...optional("question", readQuestion(m.get("question"))),
    ...optional("progress", readProgress(m.get("progress"))),
    ...optional("tickRequests", readTickRequests(m.get("tickRequests"))),
  };
}

/** `{key: value}` when there is a value: absent fields stay absent (the item's JSON is unchanged). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function readPause(v: unknown): PauseState | null {
  if (!isObject(v) || typeof v.reason !== "string" || !finite(v.since)) return null;
  return { reason: v.reason.slice(0, 500), since: v.since, until: finite(v.until) ? v.until : null };
}

function readCapacity(v: unknown): NodeEntry["capacity"] {
  const c = isObject(v) ? v : {};
  const n = (x: unknown) => (finite(x) && x >= 0 ? Math.trunc(x) : 0);
  return { coder: n(c.coder), qa: n(c.qa), mergemaster: n(c.mergemaster) };
}

/** The plain fields of a node entry (what its owner signs), or undefined when it is not a map. */
export function nodeFields(value: unknown): Record<string, unknown> | undefined {
  if (!(value instanceof Y.Map)) return undefined;
  return value.toJSON() as Record<string, unknown>;
}

/** A node entry from its plain fields, or undefined (reported) when malformed. */
export function readNode(id: string, fields: Record<string, unknown> | undefined, malformed?: Malformed): NodeEntry | undefined {
  if (!isNodeId(id)) return void malformed?.("nodes", id, "invalid node id");
  if (!fields) return void malformed?.("nodes", id, "not a map");
  const kept = Array.isArray(fields.keptWorktrees)
    ? fields.keptWorktrees
        .filter((w): w is { id: string; state: string } => isObject(w) && isItemId(w.id) && typeof w.state === "string")
        .slice(0, 100)
    : undefined;
  return {
    id,
    label: (str(fields.label) ?? id.slice(0, 8)).slice(0, 100),
    address: str(fields.address) ?? "",
    ...(typeof fields.fingerprint === "string" && /^[0-9a-f]{64}$/.test(fields.fingerprint) ? { fingerprint: fields.fingerprint } : {}),
    role: str(fields.role) ?? "agent",
    lastSeen: num(fields.lastSeen),
    alive: fields.alive !== false,
    capacity: readCapacity(fields.capacity),
    startedAt: finite(fields.startedAt) ? fields.startedAt : undefined,
    paused: readPause(fields.paused),
    ...(kept ? { keptWorktrees: kept } : {}),
    ...(typeof fields.version === "string" && RELEASE.test(fields.version) ? { version: fields.version } : {}),
    ...(Number.isSafeInteger(fields.protocol) && (fields.protocol as number) > 0 ? { protocol: fields.protocol as number } : {}),
  };
}

const RELEASE = /^[0-9A-Za-z.+-]{1,40}$/;
