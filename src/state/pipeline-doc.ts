import * as Y from "yjs";
import type { Logger } from "pino";
import { isStage, STAGES, type Stage } from "../pipeline/stages.js";
import { isItemId, isItemType, itemNumber, makeItemId, type ItemType } from "../pipeline/item-id.js";
import { isItemNumber, nextId } from "../pipeline/next-id.js";
import { isReverted } from "../util/reverted-fixes.js";
import { systemClock, type Clock } from "../util/clock.js";
import { PeerReceipts } from "./peer-receipts.js";
import { CLAIM_FIELDS, type Item, type ItemPatch, type NodeEntry, type QaMode } from "./item.js";
import { nodeFields, readItem, readItemFields, readNode, readRequests, type Malformed } from "./document-reader.js";
import type { Author, SignedGroup, WriteAuthority } from "./write-authority.js";

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
  touches?: string[];
}

/** How node entries are signed by their owner and checked by everyone else. */
export interface NodeSignatures {
  sign(nodeId: string, fields: Record<string, unknown>): string;
  verify(nodeId: string, fields: Record<string, unknown>, sig: unknown): boolean;
}

/** A write refused because this node must not write the document (see `PipelineDoc.readOnly`). */
export class ReadOnlyDocument extends Error {}

/**
 * What an update's origin (a `SyncConnection`) says about its node entries. A catch-up (a sync
 * step 2) brings entries in bulk that say nothing about when they were written, so they are no
 * heartbeat receipts — except the sending peer's own entry: whatever comes over a link from that
 * peer proves it is running now.
 */
export interface SyncOrigin {
  readonly catchingUp: boolean;
  readonly peerId?: string;
}

function syncOrigin(origin: unknown): Partial<SyncOrigin> {
  return typeof origin === "object" && origin !== null ? (origin as Partial<SyncOrigin>) : {};
}

/** Lets `Claims` (and only it) write the stage, claim, epoch and requests of an item. */
export const WRITE_CLAIM_FIELDS = Symbol("write claim fields");

/** Which signed groups a write touches and under whose right (see write-authority.ts). */
export interface Seal {
  groups: readonly SignedGroup[];
  author: Author;
}

const OPERATOR: Author = { as: "operator" };
const ITEM_GROUP_OF: Record<string, SignedGroup> = {
  name: "item",
  type: "item",
  body: "item",
  dependsOn: "item",
  qa: "item",
  retries: "work",
  blocked: "work",
  failure: "work",
  lastRun: "work",
  branch: "work",
  mergeCommit: "work",
  logNode: "place",
};

/** The signed groups a patch of plain fields touches. */
export function groupsOfPatch(patch: Record<string, unknown>): SignedGroup[] {
  const out = new Set<SignedGroup>();
  for (const k of Object.keys(patch)) out.add(ITEM_GROUP_OF[k] ?? "work");
  return [...out];
}

/**
 * The typed face of the project's Yjs document: `items`, `nodes` and `meta` maps.
 *
 * Reads go through `document-reader.ts` (malformed entries are skipped and counted, never
 * thrown) and are served from indexes kept up to date from the Yjs events, so the cost of a
 * document change is proportional to the change: a heartbeat touches one node entry, a request
 * one item, and nobody scans the thousands of done and archived stories a real project keeps.
 */
export class PipelineDoc {
  readonly items: Y.Map<unknown>;
  readonly nodes: Y.Map<unknown>;
  readonly meta: Y.Map<unknown>;
  /** Distinct malformed entries seen (each is logged once). */
  malformedCount = 0;
  /**
   * Why this node must not write the document (a schema newer than it understands; see
   * `SchemaGuard`), or undefined. Every local write through this class throws `ReadOnlyDocument`.
   */
  readOnly: string | undefined;
  private readonly byStage = new Map<Stage, Set<string>>(STAGES.map((s) => [s, new Set<string>()]));
  private readonly sorted = new Map<Stage, Array<{ n: number; id: string }>>();
  private readonly stageOf = new Map<string, Stage>();
  private readonly requested = new Set<string>();
  /** The highest item number among the keys of `items` (see `nextId`); never lowered by a deletion. */
  private highestNumber = 0;
  private readonly itemCache = new Map<string, Item | null>();
  private readonly nodeCache = new Map<string, NodeEntry>();
  private readonly reported = new Set<string>();
  private readonly stageListeners = new Set<(ev: StageEvent) => void>();
  private readonly nodeListeners = new Set<(ids: string[]) => void>();
  /** Time for this document's rules: liveness on its monotonic clock (see `receipts`). */
  readonly clock: Clock;
  /** When this node last received each peer's heartbeat (docs/architecture.md, "Faults"). */
  readonly receipts: PeerReceipts;

  constructor(
    readonly doc: Y.Doc = new Y.Doc(),
    private readonly opts: { signatures?: NodeSignatures; log?: Logger; authority?: WriteAuthority; clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.receipts = new PeerReceipts(this.clock, opts.log);
    this.items = doc.getMap("items");
    this.nodes = doc.getMap("nodes");
    this.meta = doc.getMap("meta");
    this.items.forEach((v, id) => this.indexOnLoad(id, v));
    this.nodes.forEach((_v, id) => this.refreshNode(id, false));
    this.items.observeDeep((events, tr) =>
      this.guard("items observer", () => {
        for (const id of touchedKeys(this.items, events)) this.reindex(id, tr.local);
      }),
    );
    this.nodes.observeDeep((events, tr) =>
      this.guard("nodes observer", () => {
        const ids = [...touchedKeys(this.nodes, events)];
        const from = syncOrigin(tr.origin);
        for (const id of ids) this.refreshNode(id, from.catchingUp !== true, from.peerId === id);
        for (const cb of this.nodeListeners) this.guard("nodes listener", () => cb(ids));
      }),
    );
  }

  transact(fn: () => void, origin: unknown = null): void {
    if (this.readOnly) throw new ReadOnlyDocument(this.readOnly);
    this.doc.transact(fn, origin);
  }

  /** How item writes are signed and checked (none: every value counts as written). */
  get authority(): WriteAuthority | undefined {
    return this.opts.authority;
  }

  getItem(id: string): Item | undefined {
    let item = this.itemCache.get(id);
    if (item === undefined) {
      item = this.decodeItem(id);
      this.itemCache.set(id, item);
      // Loading indexes by the raw stage without checking signatures (see indexOnLoad); the
      // verified stage corrects the index the first time an item is read.
      const indexed = this.stageOf.get(id);
      if (indexed !== (item?.stage ?? undefined)) this.moveIndex(id, indexed, item?.stage);
    }
    return item ?? undefined;
  }

  private decodeItem(id: string): Item | null {
    const raw = this.items.get(id);
    if (raw === undefined) return null;
    const auth = this.opts.authority;
    if (!auth || !(raw instanceof Y.Map) || !isItemId(id)) return readItem(id, raw, this.malformed) ?? null;
    const verified = auth.read(id, raw as Y.Map<unknown>);
    return verified ? (readItemFields(id, verified, this.malformed) ?? null) : null;
  }

  /** The operator keys changed (the rendezvous key was learned, the config edited): read every item again. */
  recheck(): void {
    if (!this.opts.authority) return;
    this.opts.authority.recheck();
    for (const id of [...this.items.keys()]) this.reindex(id, false);
  }

  /** Ids of the items in `stage` (a live view: copy before writing in a loop). */
  idsIn(stage: Stage): ReadonlySet<string> {
    return this.byStage.get(stage)!;
  }

  /** Items in any of `stages`, in number order. */
  listItemsIn(stages: readonly Stage[]): Item[] {
    const runs = stages.filter((s) => this.byStage.get(s)!.size > 0).map((s) => this.sortedIn(s));
    const keyed = runs.length === 1 ? runs[0]! : runs.flat().sort((a, b) => a.n - b.n);
    const out: Item[] = [];
    for (const k of keyed) {
      const item = this.getItem(k.id);
      // Read for the first time, an item may verify into another stage than it was indexed in.
      if (item && stages.includes(item.stage)) out.push(item);
    }
    return out;
  }

  /**
   * A stage's ids in number order, kept until the stage's membership changes: every document
   * change runs a pass over the stages a node works on, and a drain keeps hundreds of items in
   * `current` while only a few move.
   */
  private sortedIn(stage: Stage): ReadonlyArray<{ n: number; id: string }> {
    let keyed = this.sorted.get(stage);
    if (!keyed) {
      keyed = [...this.byStage.get(stage)!].map((id) => ({ n: itemNumber(id), id })).sort((a, b) => a.n - b.n);
      this.sorted.set(stage, keyed);
    }
    return keyed;
  }

  /** Every well-formed item, in number order. */
  listItems(): Item[] {
    return this.listItemsIn(STAGES);
  }

  /** Items with at least one pending claim request. */
  listRequested(): Item[] {
    return this.decode([...this.requested]);
  }

  /**
   * Create an item with the next free number. Numbers are allocated by the writer that creates
   * items (the server's REST/MCP/CLI path), so they stay unique per project.
   */
  createItem(input: NewItem, now = Date.now()): Item {
    return this.createItems([input], now)[0]!;
  }

  /**
   * Create items with consecutive numbers in one transaction. The counter is written once, so a
   * bulk import leaves no trail of overwritten counter values in the document.
   */
  createItems(inputs: readonly NewItem[], now = Date.now()): Item[] {
    let n = this.nextNumber() - 1;
    const ids: string[] = [];
    this.transact(() => {
      for (const input of inputs) {
        const type = input.type ?? "story";
        let id = makeItemId(++n, type, input.name);
        while (this.items.has(id)) id = makeItemId(++n, type, input.name);
        if (!isItemNumber(n) && !isReverted("id-counter")) throw new RangeError(`item numbers are exhausted (at ${n})`);
        const m = new Y.Map<unknown>();
        const fields: Record<string, unknown> = {
          id,
          name: input.name,
          type,
          stage: input.stage ?? "backlog",
          body: input.body ?? "",
          createdAt: now,
          stageAt: now,
          claim: null,
          epoch: 0,
          retries: 0,
          blocked: null,
          dependsOn: input.dependsOn ?? [],
        };
        if (input.qa) fields.qa = input.qa;
        if (input.touches?.length) fields.touches = input.touches;
        for (const [k, v] of Object.entries(fields)) m.set(k, v);
        m.set("requests", new Y.Map<number>());
        this.items.set(id, m);
        this.opts.authority?.seal(id, m, ["item", "place", "work"], OPERATOR);
        ids.push(id);
      }
      if (ids.length) this.meta.set("lastNumber", n);
      // Indexed (and their stage announced) inside the write, so a listener can answer in the same
      // transaction: the rendezvous offers a new item in `current` to an agent in the same update.
      for (const id of ids) this.reindex(id, true);
    });
    return ids.map((id) => this.getItem(id)!);
  }

  /**
   * The number for the next item (see `nextId`): above both `meta.lastNumber` and every item
   * present; a malformed counter is ignored, counted and logged once.
   */
  private nextNumber(): number {
    const last = this.meta.get("lastNumber");
    if (isReverted("id-counter")) return legacyNextNumber(last, this.items);
    const r = nextId(last, this.highestNumber);
    if (r.malformed) this.malformed("meta", "lastNumber", r.malformed);
    return r.next;
  }

  private noteNumber(id: string): void {
    if (!isItemId(id)) return;
    const n = itemNumber(id);
    if (isItemNumber(n) && n > this.highestNumber) this.highestNumber = n;
  }

  /** Set plain fields of an item; `undefined` removes a field. Claim fields go through `Claims`. */
  update(id: string, patch: ItemPatch, origin: unknown = null): void {
    const bad = Object.keys(patch).filter((k) => (CLAIM_FIELDS as readonly string[]).includes(k));
    if (bad.length) throw new Error(`${bad.join(", ")} of an item are written only through Claims`);
    this.writeFields(id, (m) => setAll(m, patch), origin, { groups: groupsOfPatch(patch), author: OPERATOR });
  }

  /** Only for `Claims`: write claim fields (and a patch) in one transaction, signed as `seal` says. */
  [WRITE_CLAIM_FIELDS](id: string, write: (m: Y.Map<unknown>) => void, seal?: Seal, origin: unknown = null): void {
    this.writeFields(id, write, origin, seal);
  }

  private writeFields(id: string, write: (m: Y.Map<unknown>) => void, origin: unknown, seal?: Seal): void {
    const m = this.items.get(id);
    if (!(m instanceof Y.Map)) throw new Error(`unknown item ${id}`);
    // Indexed inside the write: reads in the same transaction see it, and a stage listener's own
    // writes (the rendezvous offering an item that just entered `current`) join the same update.
    this.transact(() => {
      // Judge the groups as they are before the write, so the seal knows what this node reads
      // (a group the document holds from a refused write is rewritten from its last valid value).
      const authority = seal?.groups.length ? this.opts.authority : undefined;
      authority?.read(id, m);
      write(m);
      authority?.seal(id, m, seal!.groups, seal!.author);
      this.reindex(id, true);
    }, origin);
  }

  /** A CRDT deletion: it replicates and survives restarts like any other write. */
  deleteItem(id: string): boolean {
    if (this.readOnly) throw new ReadOnlyDocument(this.readOnly);
    if (!this.items.has(id)) return false;
    this.items.delete(id);
    this.opts.authority?.forget(id);
    return true;
  }

  /**
   * Put back an item a peer deleted, exactly as last verified: each signed group's fields and its
   * record (the rendezvous' `ForgeryRepair`; only the rendezvous deletes items). Unsigned
   * per-item state (pending requests) starts empty again.
   */
  restoreItem(id: string, fields: Record<string, unknown>): void {
    this.transact(() => {
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) m.set(k, v);
      m.set("requests", new Y.Map<number>());
      this.items.set(id, m);
      this.reindex(id, true);
    }, "repair");
  }

  getNode(id: string): NodeEntry | undefined {
    return this.nodeCache.get(id);
  }

  /** The same nodes as `listNodes`, by id: a live read-only view of the index, not a copy. */
  nodeIndex(): ReadonlyMap<string, NodeEntry> {
    return this.nodeCache;
  }

  /** Every node with a valid (and, when signatures are on, verified) entry. */
  listNodes(): NodeEntry[] {
    return [...this.nodeCache.values()];
  }

  /**
   * Write this node's own entry (the only entry a node writes). Unchanged keys are not rewritten,
   * so a heartbeat costs one key; with signatures on, the entry is signed as a whole.
   */
  setOwnNode(id: string, fields: Partial<Omit<NodeEntry, "id">>): void {
    // Readers take a `lastSeen` that did not grow for a replayed old entry and ignore it
    // (`refreshNode`), so a wall clock stepped back would silence this node's heartbeats for as
    // long as the step, and its claims would lapse while it works (simulation seeds 139, 190, 408).
    // Its own `lastSeen` therefore never goes back: it only has to grow (docs/architecture.md, rule 4).
    const last = this.nodeCache.get(id)?.lastSeen;
    if (fields.lastSeen !== undefined && last !== undefined && fields.lastSeen <= last) fields = { ...fields, lastSeen: last + 1 };
    this.transact(() => {
      let m = this.nodes.get(id);
      if (!(m instanceof Y.Map)) {
        m = new Y.Map<unknown>();
        this.nodes.set(id, m);
      }
      const entry = m as Y.Map<unknown>;
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) {
          if (entry.has(k)) entry.delete(k);
        } else if (JSON.stringify(entry.get(k)) !== JSON.stringify(v)) entry.set(k, v);
      }
      const sig = this.opts.signatures;
      if (sig) {
        const { sig: _old, ...plain } = entry.toJSON() as Record<string, unknown>;
        entry.set("sig", sig.sign(id, plain));
      }
    });
  }

  /**
   * Whether a transaction changed nothing anyone waits on: node entries (heartbeats, pause,
   * addresses) and items' claim requests, which only the sequencer reads, and it gets them from
   * the requester first-hand. A relay may batch such updates (see `SyncHub`).
   */
  lazy(tr: Y.Transaction): boolean {
    if (tr.changed.size === 0) return false;
    for (const type of tr.changed.keys()) {
      const item = type._item;
      if (item?.parentSub === "requests" && (item.parent as Y.AbstractType<any> | null)?._item?.parent === this.items) continue;
      let root: Y.AbstractType<any> = type;
      while (root._item?.parent) root = root._item.parent as Y.AbstractType<any>;
      if (root !== this.nodes) return false;
    }
    return true;
  }

  /** Stage transitions as events, whichever replica made them (deletions have `to` undefined). */
  onStageChange(cb: (ev: StageEvent) => void): () => void {
    this.stageListeners.add(cb);
    return () => this.stageListeners.delete(cb);
  }

  /** Node entries that changed (ids), whichever replica wrote them. */
  onNodesChange(cb: (ids: string[]) => void): () => void {
    this.nodeListeners.add(cb);
    return () => this.nodeListeners.delete(cb);
  }

  /** Any change to the document, local or remote (fires after the indexes are up to date). */
  onChange(cb: (local: boolean) => void): () => void {
    const handler = (_u: Uint8Array, _o: unknown, _d: Y.Doc, tr: Y.Transaction) => this.guard("change listener", () => cb(tr.local));
    this.doc.on("update", handler);
    return () => this.doc.off("update", handler);
  }

  private decode(ids: string[]): Item[] {
    // Each id's number parsed once, not twice per comparison (a board read sorts 10 000 items).
    const keyed: Array<{ n: number; item: Item }> = [];
    for (const id of ids) {
      const item = this.getItem(id);
      if (item) keyed.push({ n: itemNumber(id), item });
    }
    return keyed.sort((a, b) => a.n - b.n).map((k) => k.item);
  }

  /**
   * The index entry of an item as the replica loads, without decoding the item: a project keeps
   * thousands of finished items that nobody reads until asked, so loading reads two keys each and
   * items are decoded (and cached) on first use. Anything that is not plainly well-formed goes
   * through the full reader, which skips and reports it exactly as on any later change.
   */
  private indexOnLoad(id: string, raw: unknown): void {
    this.noteNumber(id);
    const m = raw instanceof Y.Map ? (raw as Y.Map<unknown>) : undefined;
    const stage = m?.get("stage");
    if (!m || !isItemId(id) || !isStage(stage) || !isItemType(m.get("type"))) return this.reindex(id, false);
    this.byStage.get(stage)!.add(id);
    this.sorted.delete(stage);
    this.stageOf.set(id, stage);
    const requests = m.get("requests");
    if (requests instanceof Y.Map && requests.size > 0 && Object.keys(readRequests(requests)).length > 0) this.requested.add(id);
  }

  private moveIndex(id: string, before: Stage | undefined, stage: Stage | undefined): void {
    if (before) this.byStage.get(before)!.delete(id);
    if (before) this.sorted.delete(before);
    if (stage) {
      this.byStage.get(stage)!.add(id);
      this.sorted.delete(stage);
      this.stageOf.set(id, stage);
    } else {
      this.stageOf.delete(id);
    }
  }

  private reindex(id: string, local: boolean): void {
    const before = this.stageOf.get(id);
    this.itemCache.delete(id);
    if (this.items.has(id)) this.noteNumber(id);
    const item = this.getItem(id);
    const stage = item?.stage;
    if (before !== stage && this.stageOf.get(id) !== stage) this.moveIndex(id, this.stageOf.get(id), stage);
    if (item && Object.keys(item.requests).length > 0) this.requested.add(id);
    else this.requested.delete(id);
    if (before !== stage) {
      for (const cb of this.stageListeners) this.guard("stage listener", () => cb({ id, from: before, to: stage, local }));
    }
  }

  /**
   * `live`: the change came in a live update (not loaded, not a catch-up): a grown `lastSeen` is a
   * heartbeat received now. `fromItself`: it came over a link from that very node.
   */
  private refreshNode(id: string, live: boolean, fromItself = false): void {
    const fields = nodeFields(this.nodes.get(id));
    const sig = this.opts.signatures;
    if (sig && fields) {
      const { sig: s, ...plain } = fields;
      // A planted or tampered entry is ignored: the last verified view of that node stays.
      if (!sig.verify(id, plain, s)) return void this.malformed("nodes", id, "missing or invalid signature");
    }
    const entry = readNode(id, fields, this.malformed);
    if (!entry) return;
    const prev = this.nodeCache.get(id);
    // An older state written again (a replay) never makes a node look older than it was.
    if (prev && entry.lastSeen < prev.lastSeen) return;
    this.nodeCache.set(id, entry);
    // Only the peer's own clock is compared, with itself: a grown lastSeen is a new heartbeat.
    const grown = !prev || entry.lastSeen > prev.lastSeen;
    if ((live && grown) || fromItself) this.receipts.received(id, entry.lastSeen, live);
    else this.receipts.seen(id);
  }

  private readonly malformed: Malformed = (map, key, why) => {
    const k = `${map}\0${key}\0${why}`;
    if (this.reported.has(k)) return;
    this.reported.add(k);
    this.malformedCount += 1;
    this.opts.log?.warn({ map, key: key.slice(0, 80), why }, "ignoring a malformed document entry");
  };

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log?.error({ err, what }, "document handler failed; going on");
    }
  }
}

/**
 * TEST-ONLY (`HUSKIES_REVERT_FIXES=id-counter`, see reverted-fixes.ts): the counter as it was
 * before the fix — trusted whatever it holds, and unaware of the items present.
 */
function legacyNextNumber(last: unknown, items: Y.Map<unknown>): number {
  let n = Number(last);
  if (!Number.isFinite(n)) {
    n = 0;
    items.forEach((_m, id) => {
      n = Math.max(n, itemNumber(id) || 0);
    });
  }
  return n + 1;
}

/** Keys of `root`'s direct children touched by a batch of deep events. */
function touchedKeys(root: Y.Map<unknown>, events: Array<Y.YEvent<any>>): Set<string> {
  const out = new Set<string>();
  for (const ev of events) {
    if (ev.target === root) {
      for (const k of (ev as Y.YMapEvent<unknown>).keysChanged) out.add(k);
      continue;
    }
    let t: Y.AbstractType<any> | null = ev.target;
    while (t && t.parent !== root) t = t.parent as Y.AbstractType<any> | null;
    // A nested type knows the key it sits under in its parent map.
    const key = (t as unknown as { _item?: { parentSub?: string | null } } | null)?._item?.parentSub;
    if (typeof key === "string") out.add(key);
  }
  return out;
}

/** Set each key of `patch` on `m`; `undefined` removes the key. */
export function setAll(m: Y.Map<unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) m.delete(k);
    else m.set(k, v);
  }
}
