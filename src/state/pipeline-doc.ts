import * as Y from "yjs";
import { isStage, type Stage } from "../pipeline/stages.js";
import { isItemType, itemNumber, makeItemId, type ItemType } from "../pipeline/item-id.js";
import { checkTransition, type TransitionContext } from "../pipeline/transitions.js";
import type { Item, ItemPatch, NodeEntry, QaMode } from "./item.js";

export interface StageEvent {
  id: string;
  from: Stage | undefined;
  to: Stage | undefined;
  /** True when this process made the change. */
  local: boolean;
}

export interface NewItem {
  name: string;
  type?: ItemType;
  stage?: Stage;
  body?: string;
  dependsOn?: string[];
  qa?: QaMode;
}

/**
 * The typed face of the project's Yjs document: `items`, `nodes` and `meta` maps.
 * Every read returns plain values; every write happens in one transaction.
 */
export class PipelineDoc {
  readonly items: Y.Map<Y.Map<unknown>>;
  readonly nodes: Y.Map<Y.Map<unknown>>;
  readonly meta: Y.Map<unknown>;

  constructor(readonly doc: Y.Doc = new Y.Doc()) {
    this.items = doc.getMap("items");
    this.nodes = doc.getMap("nodes");
    this.meta = doc.getMap("meta");
  }

  transact(fn: () => void, origin: unknown = null): void {
    this.doc.transact(fn, origin);
  }

  getItem(id: string): Item | undefined {
    const m = this.items.get(id);
    return m ? readItem(id, m) : undefined;
  }

  /**
   * Items in number order. `filter` sees the raw map first, so hot paths (every document event
   * on every node) only decode the few items they care about.
   */
  listItems(filter?: (m: Y.Map<unknown>) => boolean): Item[] {
    const out: Item[] = [];
    this.items.forEach((m, id) => {
      if (filter && !filter(m)) return;
      const item = readItem(id, m);
      if (item) out.push(item);
    });
    return out.sort((a, b) => itemNumber(a.id) - itemNumber(b.id));
  }

  /** Items in any of `stages`. */
  listItemsIn(stages: readonly Stage[]): Item[] {
    return this.listItems((m) => stages.includes(m.get("stage") as Stage));
  }

  /** Items with at least one pending claim request. */
  listRequested(): Item[] {
    return this.listItems((m) => {
      const req = m.get("requests");
      return req instanceof Y.Map && req.size > 0;
    });
  }

  /**
   * Create an item with the next free number. Numbers are allocated by the writer that creates
   * items (the server's REST/MCP/CLI path), so they stay unique per project.
   */
  createItem(input: NewItem, now = Date.now()): Item {
    const type = input.type ?? "story";
    const stage = input.stage ?? "backlog";
    // `meta.lastNumber` is the counter; a document written by another Yjs client may lack it,
    // and then the items themselves say how far numbering got.
    let n = Number(this.meta.get("lastNumber"));
    if (!Number.isFinite(n)) {
      n = 0;
      this.items.forEach((_m, id) => { n = Math.max(n, itemNumber(id) || 0); });
    }
    let id = makeItemId(n + 1, type, input.name);
    while (this.items.has(id)) id = makeItemId(++n + 1, type, input.name);
    this.transact(() => {
      const m = new Y.Map<unknown>();
      m.set("id", id);
      m.set("name", input.name);
      m.set("type", type);
      m.set("stage", stage);
      m.set("body", input.body ?? "");
      m.set("createdAt", now);
      m.set("stageAt", now);
      m.set("claim", null);
      m.set("epoch", 0);
      m.set("retries", 0);
      m.set("blocked", null);
      m.set("dependsOn", input.dependsOn ?? []);
      if (input.qa) m.set("qa", input.qa);
      m.set("requests", new Y.Map<number>());
      this.items.set(id, m);
      this.meta.set("lastNumber", n + 1);
    });
    return this.getItem(id)!;
  }

  update(id: string, patch: ItemPatch, origin: unknown = null): void {
    const m = this.requireItem(id);
    this.transact(() => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) m.delete(k);
        else m.set(k, v);
      }
    }, origin);
  }

  /**
   * Move an item through the transition table. The claim and pending requests are cleared
   * because they belong to the stage being left.
   */
  move(id: string, to: Stage, ctx: TransitionContext, patch: ItemPatch = {}, now = Date.now()): void {
    const item = this.getItem(id);
    if (!item) throw new Error(`unknown item ${id}`);
    const verdict = checkTransition(item.stage, to, ctx);
    if (!verdict.ok) throw new Error(`cannot move ${id}: ${verdict.error}`);
    const m = this.items.get(id)!;
    this.transact(() => {
      m.set("stage", to);
      m.set("stageAt", now);
      m.set("claim", null);
      clearRequests(m);
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) m.delete(k);
        else m.set(k, v);
      }
    });
  }

  /** A CRDT deletion: it replicates and survives restarts like any other write. */
  deleteItem(id: string): boolean {
    if (!this.items.has(id)) return false;
    this.items.delete(id);
    return true;
  }

  setRequest(id: string, nodeId: string, at: number | null): void {
    const m = this.items.get(id);
    if (!m) return;
    const req = requestsMap(m);
    this.transact(() => (at === null ? req.delete(nodeId) : req.set(nodeId, at)));
  }

  clearRequests(id: string): void {
    const m = this.items.get(id);
    if (m) this.transact(() => clearRequests(m));
  }

  getNode(id: string): NodeEntry | undefined {
    const m = this.nodes.get(id);
    return m ? readNode(id, m) : undefined;
  }

  listNodes(): NodeEntry[] {
    const out: NodeEntry[] = [];
    this.nodes.forEach((m, id) => out.push(readNode(id, m)));
    return out;
  }

  /** Each node writes only its own entry; overwriting the same keys keeps the document small. */
  setNode(id: string, fields: Partial<Omit<NodeEntry, "id">>): void {
    this.transact(() => {
      let m = this.nodes.get(id);
      if (!m) {
        m = new Y.Map<unknown>();
        this.nodes.set(id, m);
      }
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined && JSON.stringify(m.get(k)) !== JSON.stringify(v)) m.set(k, v);
      }
    });
  }

  /**
   * Stage transitions as events, whichever replica made them. The last stage of every item is
   * remembered here because a deleted Y.Map no longer answers reads.
   */
  onStageChange(cb: (ev: StageEvent) => void): () => void {
    const known = new Map<string, Stage>();
    this.items.forEach((m, id) => { const st = asStage(m.get("stage")); if (st) known.set(id, st); });
    const handler = (events: Y.YEvent<any>[], tr: Y.Transaction) => {
      const touched = new Set<string>();
      for (const ev of events) {
        if (ev.target === this.items) for (const id of (ev as Y.YMapEvent<unknown>).keysChanged) touched.add(id);
        else if (ev.target.parent === this.items && (ev as Y.YMapEvent<unknown>).keysChanged?.has("stage")) touched.add(String((ev.target as Y.Map<unknown>).get("id")));
      }
      for (const id of touched) {
        const before = known.get(id);
        const after = asStage(this.items.get(id)?.get("stage"));
        if (after) known.set(id, after);
        else known.delete(id);
        if (before !== after) cb({ id, from: before, to: after, local: tr.local });
      }
    };
    this.items.observeDeep(handler);
    return () => this.items.unobserveDeep(handler);
  }

  /** Any change to items or nodes, local or remote. */
  onChange(cb: (local: boolean) => void): () => void {
    const handler = (_u: Uint8Array, _o: unknown, _d: Y.Doc, tr: Y.Transaction) => cb(tr.local);
    this.doc.on("update", handler);
    return () => this.doc.off("update", handler);
  }

  private requireItem(id: string): Y.Map<unknown> {
    const m = this.items.get(id);
    if (!m) throw new Error(`unknown item ${id}`);
    return m;
  }
}

function asStage(v: unknown): Stage | undefined {
  return isStage(v) ? v : undefined;
}

function requestsMap(m: Y.Map<unknown>): Y.Map<number> {
  let req = m.get("requests");
  if (!(req instanceof Y.Map)) {
    req = new Y.Map<number>();
    m.set("requests", req);
  }
  return req as Y.Map<number>;
}

function clearRequests(m: Y.Map<unknown>): void {
  const req = m.get("requests");
  if (req instanceof Y.Map && req.size > 0) for (const k of [...req.keys()]) req.delete(k);
}

/** Read an item defensively: the document is shared with any Yjs client, so shapes are checked. */
function readItem(id: string, m: Y.Map<unknown>): Item | undefined {
  const stage = m.get("stage");
  const type = m.get("type");
  if (!isStage(stage) || !isItemType(type)) return undefined;
  const req = m.get("requests");
  const requests: Record<string, number> = req instanceof Y.Map ? (req.toJSON() as Record<string, number>) : {};
  const str = (k: string) => (typeof m.get(k) === "string" ? (m.get(k) as string) : undefined);
  const num = (k: string, d = 0) => (typeof m.get(k) === "number" ? (m.get(k) as number) : d);
  return {
    id,
    name: str("name") ?? id,
    type,
    stage,
    body: str("body") ?? "",
    createdAt: num("createdAt"),
    stageAt: num("stageAt", num("createdAt")),
    claim: (m.get("claim") as Item["claim"]) ?? null,
    epoch: num("epoch"),
    requests,
    retries: num("retries"),
    blocked: str("blocked") ?? null,
    dependsOn: Array.isArray(m.get("dependsOn")) ? (m.get("dependsOn") as string[]) : [],
    qa: str("qa") as QaMode | undefined,
    branch: str("branch"),
    mergeCommit: str("mergeCommit"),
    lastRun: (m.get("lastRun") as Item["lastRun"]) ?? undefined,
    failure: str("failure"),
    logNode: str("logNode"),
  };
}

function readNode(id: string, m: Y.Map<unknown>): NodeEntry {
  const cap = (m.get("capacity") as NodeEntry["capacity"] | undefined) ?? { coder: 0, qa: 0, mergemaster: 0 };
  return {
    id,
    label: String(m.get("label") ?? id.slice(0, 8)),
    address: String(m.get("address") ?? ""),
    role: String(m.get("role") ?? "agent"),
    lastSeen: Number(m.get("lastSeen") ?? 0),
    alive: m.get("alive") !== false,
    capacity: cap,
    startedAt: typeof m.get("startedAt") === "number" ? (m.get("startedAt") as number) : undefined,
  };
}
