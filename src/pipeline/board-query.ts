import { isItemType, type ItemType } from "./item-id.js";
import { isStage, type Stage } from "./stages.js";

/**
 * What the board shows: a search and filters, kept in the page's URL so a view can be shared.
 * Pure: the board (and its tests) feed it values.
 */
export interface BoardQuery {
  /** Words that must each occur in the id, the name or the body (any case). */
  q: string;
  type?: ItemType;
  stage?: Stage;
  /** A node id: only stories whose claim names it. */
  holder?: string;
  /** true: only blocked stories; false: only stories that are not blocked. */
  blocked?: boolean;
  /** Only stories with an open question for a person. */
  question?: boolean;
  /** Only stories whose last run used this runtime (`claude-code`, `command`, …). */
  runtime?: string;
  /** The archived column is opened (it is collapsed to a count otherwise). */
  archived?: boolean;
}

/** The fields a query looks at (the board's items have them all). */
export interface Queryable {
  id: string;
  name: string;
  body: string;
  type: string;
  stage: string;
  claim: { node: string } | null;
  blocked: string | null;
  hasQuestion?: boolean;
  lastRun?: { runtime?: string };
}

/** URL parameter names; everything else in the URL (`token`, `story`) is left alone. */
const PARAMS = ["q", "type", "stage", "holder", "blocked", "question", "runtime", "archived"] as const;

const flag = (v: string | null): boolean | undefined => (v === "1" || v === "yes" ? true : v === "0" || v === "no" ? false : undefined);

export function parseQuery(search: string): BoardQuery {
  const p = new URLSearchParams(search);
  const type = p.get("type");
  const stage = p.get("stage");
  const holder = p.get("holder");
  const runtime = p.get("runtime");
  return {
    q: (p.get("q") ?? "").slice(0, 500),
    ...(isItemType(type) ? { type } : {}),
    ...(isStage(stage) ? { stage } : {}),
    ...(holder ? { holder: holder.slice(0, 200) } : {}),
    ...(flag(p.get("blocked")) !== undefined ? { blocked: flag(p.get("blocked")) } : {}),
    ...(flag(p.get("question")) ? { question: true } : {}),
    ...(runtime ? { runtime: runtime.slice(0, 100) } : {}),
    ...(flag(p.get("archived")) ? { archived: true } : {}),
  };
}

/** The URL search string for `query`, keeping the parameters of `current` that are not the query's. */
export function formatQuery(query: BoardQuery, current: string): string {
  const p = new URLSearchParams(current);
  for (const k of PARAMS) p.delete(k);
  const pairs: Array<[string, string | undefined]> = [
    ["q", query.q.trim() ? query.q : undefined],
    ["type", query.type],
    ["stage", query.stage],
    ["holder", query.holder],
    ["blocked", query.blocked === undefined ? undefined : query.blocked ? "1" : "0"],
    ["question", query.question ? "1" : undefined],
    ["runtime", query.runtime],
    ["archived", query.archived ? "1" : undefined],
  ];
  for (const [k, v] of pairs) if (v !== undefined) p.append(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** Whether any filter or search narrows the board. */
export function isFiltered(q: BoardQuery): boolean {
  return !!(q.q.trim() || q.type || q.stage || q.holder || q.blocked !== undefined || q.question || q.runtime);
}

/** The search words: lower case, split on white space. */
export function searchWords(q: string): string[] {
  return q.toLowerCase().split(/\s+/).filter(Boolean);
}

// The lower-cased text of an item, per item object: items are replaced, never mutated, when they
// change, so a cached entry is never stale, and searching 10 000 stories lowers no string twice.
const haystacks = new WeakMap<object, string>();
function haystack(item: Queryable): string {
  let h = haystacks.get(item);
  if (h === undefined) {
    h = `${item.id}\n${item.name}\n${item.body}`.toLowerCase();
    haystacks.set(item, h);
  }
  return h;
}

/** A predicate for `query` (the stage filter included; `archived` is about showing, not matching). */
export function matcher(query: BoardQuery): (item: Queryable) => boolean {
  const words = searchWords(query.q);
  return (item) => {
    if (query.type && item.type !== query.type) return false;
    if (query.stage && item.stage !== query.stage) return false;
    if (query.holder && item.claim?.node !== query.holder) return false;
    if (query.blocked !== undefined && !!item.blocked !== query.blocked) return false;
    if (query.question && !item.hasQuestion) return false;
    if (query.runtime && item.lastRun?.runtime !== query.runtime) return false;
    if (words.length) {
      const h = haystack(item);
      for (const w of words) if (!h.includes(w)) return false;
    }
    return true;
  };
}

/**
 * Whether a document value is an open question: a coder's `ask_human` (`{text, …}`) that has no
 * `answer` yet (a bare non-empty string counts too, for a writer that knows no more).
 */
export function isOpenQuestion(v: unknown): boolean {
  if (typeof v === "string") return v.trim().length > 0;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const q = v as { text?: unknown; answer?: unknown };
  return typeof q.text === "string" && q.text.trim().length > 0 && typeof q.answer !== "string";
}
