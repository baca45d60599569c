import type * as Y from "yjs";
import type { Claim } from "../pipeline/claim-rules.js";
import { isStage } from "../pipeline/stages.js";
import type { Author, FieldSource, SignedGroup, WriteAuthority } from "../state/write-authority.js";
import { isNodeId } from "../state/document-reader.js";
import type { Identity } from "./identity.js";
import { canonicalJson, signedText } from "./signed-record.js";
import { signCached, verifyCached } from "./verify-cache.js";
import { CLAIM_KIND, GROUP_NAMES, GROUPS, mayWrite, type Group, type ItemHistory, type SignedClaim } from "./write-rights.js";
import { itemFieldProblem } from "./item-limits.js";

const REV_CAP = 2 ** 40;

/** The signature record stored beside a group's fields (`itemSig`, `placeSig`, `workSig`). */
export interface GroupRecord {
  rev: number;
  by: string;
  sig: string;
  /** The signed claim a holder wrote under (absent for operator writes). */
  held?: SignedClaim;
}

/** A group as last verified: its values and the record that signed them. */
export interface ValidGroup {
  values: Record<string, unknown>;
  record: GroupRecord;
}

interface ItemState {
  valid: Partial<Record<Group, ValidGroup>>;
  /** Per group: the raw record and values last checked, and whether they verified. */
  checked: Partial<Record<Group, { record: unknown; values: unknown[]; ok: boolean }>>;
  history: ItemHistory;
  /** Per group: the record this node's replica held when it loaded, not yet checked (see `prime`). */
  loaded?: Partial<Record<Group, { record: unknown; values: Record<string, unknown> }>>;
}

export interface UnverifiedWrite {
  item: string;
  group: Group;
  reason: string;
}

export function claimText(itemId: string, by: string, c: { node: string; at: number; epoch: number; stage: string }): string {
  return signedText(CLAIM_KIND, by, itemId, canonicalJson({ node: c.node, at: c.at, epoch: c.epoch, stage: c.stage }));
}

function groupText(group: Group, itemId: string, by: string, values: Record<string, unknown>, rev: number, held?: SignedClaim): string {
  return signedText(GROUPS[group].kind, by, itemId, canonicalJson({ ...values, rev, ...(held ? { held } : {}) }));
}

/** A claim object of the right shape, with its grantor and signature. */
function claimShape(v: unknown): v is SignedClaim {
  const c = v as Partial<SignedClaim> | null;
  return (
    !!c &&
    typeof c === "object" &&
    isNodeId(c.node) &&
    isNodeId(c.by) &&
    typeof c.sig === "string" &&
    Number.isSafeInteger(c.at) &&
    Number.isSafeInteger(c.epoch) &&
    isStage(c.stage)
  );
}

function recordShape(v: unknown): v is GroupRecord {
  const r = v as Partial<GroupRecord> | null;
  return (
    !!r && typeof r === "object" && Number.isSafeInteger(r.rev) && (r.rev as number) >= 0 && isNodeId(r.by) && typeof r.sig === "string"
  );
}

/**
 * Signs this node's item writes and checks everyone's (the rights are in write-rights.ts).
 * A group that does not verify is read at its last valid value and reported once (counted in
 * `/health` `unverifiedWrites` and `/metrics`); the rendezvous listens (`onRejected`) and writes
 * the last valid value back. Checks are cached per (values, signature): an unchanged group costs
 * reference compares, and a signature once verified is never verified again.
 */
export class ItemAuthority implements WriteAuthority {
  /** Distinct unverified writes seen. */
  unverified = 0;
  /** CPU spent checking (process CPU while a read was checked), in ns: the benchmark's share of the rendezvous' CPU. */
  checkNs = 0n;
  /** Item reads checked, and groups whose values or signature changed since their last check. */
  reads = 0;
  groupChecks = 0;
  private readonly items = new Map<string, ItemState>();
  private readonly reported = new Set<string>();
  private readonly listeners = new Set<(w: UnverifiedWrite) => void>();

  constructor(
    private readonly identity: Identity,
    /** Whether `key` is an operator key (the rendezvous key, `operator_keys`). Read on every check. */
    private readonly isOperator: (key: string) => boolean,
  ) {}

  /**
   * Count an unverified write to another signed map (a forged directive, a deleted or forged
   * revocation), once per `key`: `/health` and `/metrics` report one number for the document.
   */
  countUnverified(key: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.unverified += 1;
  }

  /** Called for each distinct unverified write, after it was counted. Returns unsubscribe. */
  onRejected(cb: (w: UnverifiedWrite) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** The operator keys changed (the rendezvous key was learned, config edited): check everything again. */
  recheck(): void {
    for (const s of this.items.values()) s.checked = {};
  }

  /**
   * Remember what each item's groups held when this node's replica loaded (references only; a
   * record is verified when the group is first read). That record, if it verifies, is the floor
   * the group starts from: read lazily instead, an item nobody read since the restart would take a
   * replayed older record as its first valid one, and a peer's deletion of it would have nothing
   * to be put back from. Verifying everything at load would cost a 10 000-item project seconds.
   */
  prime(items: Y.Map<unknown>): void {
    for (const [id, m] of items) {
      if (!m || typeof (m as { get?: unknown }).get !== "function") continue;
      const map = m as Y.Map<unknown>;
      const loaded: NonNullable<ItemState["loaded"]> = {};
      for (const g of GROUP_NAMES) {
        const values: Record<string, unknown> = {};
        for (const f of GROUPS[g].fields) {
          const v = map.get(f);
          if (v !== undefined) values[f] = v;
        }
        loaded[g] = { record: map.get(GROUPS[g].sigKey), values };
      }
      this.state(id).loaded = loaded;
    }
  }

  /** The group's load-time record, checked once on first use: valid, it becomes the last valid value. */
  private settleLoaded(itemId: string, group: Group, state: ItemState): void {
    const l = state.loaded?.[group];
    if (!l) return;
    delete state.loaded![group];
    if (state.valid[group] || this.problem(itemId, group, l.record, l.values, state)) return;
    this.accept(state, group, l.values, l.record as GroupRecord);
  }

  /** Whether `group` of item `m` as the document has it now verifies. */
  verifies(itemId: string, m: Y.Map<unknown>, group: Group): boolean {
    return this.check(itemId, m, group, this.state(itemId));
  }

  /** Sign groups that carry no signature record at all (a document from before signed writes; the rendezvous, once). */
  adopt(itemId: string, m: Y.Map<unknown>): Group[] {
    const missing = GROUP_NAMES.filter((g) => m.get(GROUPS[g].sigKey) === undefined);
    if (!missing.length) return [];
    const claim = m.get("claim") as Partial<SignedClaim> | null | undefined;
    if (
      missing.includes("place") &&
      claim &&
      typeof claim === "object" &&
      claim.sig === undefined &&
      isNodeId(claim.node) &&
      isStage(claim.stage)
    ) {
      m.set(
        "claim",
        this.signClaim(itemId, { node: claim.node, at: Number(claim.at) || 0, epoch: Number(claim.epoch) || 0, stage: claim.stage }),
      );
    }
    // Nothing else writes these items in this transaction: the fields stay as they are.
    this.seal(itemId, m, missing, { as: "operator" }, false);
    return missing;
  }

  /**
   * This node's own last valid write of `group`, when the document holds an older write instead
   * (one that lost the CRDT's tie-break to it, such as the rendezvous putting back the value a
   * stale holder's write replaced): the readers that verified ours refuse the older one as a
   * replay, the others never see ours, and the replicas would disagree for good. Undefined when
   * the document's group verifies, ours is not the newer, or ours was written under a claim this
   * node knows is stale (then the older value is the right one).
   */
  ownNewer(itemId: string, m: Y.Map<unknown>, group: Group): ValidGroup | undefined {
    const state = this.state(itemId);
    if (this.check(itemId, m, group, state)) return undefined;
    const valid = state.valid[group];
    const raw = m.get(GROUPS[group].sigKey);
    if (!valid || valid.record.by !== this.identity.nodeId || !recordShape(raw) || raw.rev >= valid.record.rev) return undefined;
    const held = valid.record.held?.epoch;
    return held !== undefined && held < state.history.maxEpoch ? undefined : valid;
  }

  lastValid(itemId: string, group: Group): ValidGroup | undefined {
    const state = this.items.get(itemId);
    if (state) this.settleLoaded(itemId, group, state);
    return state?.valid[group];
  }

  /**
   * A recovered rendezvous grants again, with its own key, a claim the lost key granted (same
   * node, time, epoch and stage; `src/backup/reseal-items.ts`). Inside the caller's transaction.
   */
  regrant(itemId: string, m: Y.Map<unknown>, lostKey: string): void {
    const claim = m.get("claim") as (Claim & { by?: string }) | null | undefined;
    if (claim && typeof claim === "object" && claim.by === lostKey)
      m.set("claim", this.signClaim(itemId, { node: claim.node, at: claim.at, epoch: claim.epoch, stage: claim.stage }));
  }

  signClaim(itemId: string, claim: Claim): Record<string, unknown> {
    const by = this.identity.nodeId;
    const plain = { node: claim.node, at: claim.at, epoch: claim.epoch, stage: claim.stage };
    return { ...plain, by, sig: signCached(this.identity, claimText(itemId, by, plain)) };
  }

  seal(itemId: string, m: Y.Map<unknown>, groups: Iterable<SignedGroup>, author: Author, rewrite = true): void {
    const state = this.state(itemId);
    const by = this.identity.nodeId;
    const held = author.as === "holder" && claimShape(author.claim) ? author.claim : undefined;
    const written = m.doc?._transaction?.changed.get(m as never);
    for (const group of new Set(groups)) {
      // The document may hold a write this node refused (a stale holder's, a forgery) until the
      // rendezvous puts the valid one back: the fields this write leaves alone are then written as
      // this node reads them (the last valid value), never copied from the refused write. Copied,
      // a stale epoch made the new holder's own move stale, and its story never left the stage.
      const refused = rewrite && state.checked[group]?.ok === false ? state.valid[group]?.values : undefined;
      const values: Record<string, unknown> = {};
      for (const f of GROUPS[group].fields) {
        const untouched = !written?.has(f);
        const v = refused && untouched ? refused[f] : m.get(f);
        if (v === undefined) {
          if (refused && untouched && m.has(f)) m.delete(f);
          continue;
        }
        values[f] = v;
        // Written whole, so the last writer of the group wins every field of it (see write-rights.ts).
        if (rewrite && untouched) m.set(f, v);
      }
      // Above what this node verified, and above what the document shows (a writer that reads on
      // trust, or has not read this item since a newer write); capped so a forged huge rev cannot
      // push honest ones past the safe integers.
      const raw = m.get(GROUPS[group].sigKey);
      const rawRev = recordShape(raw) && raw.rev < REV_CAP ? raw.rev : -1;
      const rev = Math.max(state.valid[group]?.record.rev ?? -1, rawRev) + 1;
      const sig = signCached(this.identity, groupText(group, itemId, by, values, rev, held));
      const record: GroupRecord = { rev, by, sig, ...(held ? { held } : {}) };
      m.set(GROUPS[group].sigKey, record);
    }
  }

  read(itemId: string, m: Y.Map<unknown>): FieldSource | undefined {
    // CPU time, not wall time: on a busy machine a read can be descheduled halfway.
    const started = process.cpuUsage();
    this.reads += 1;
    try {
      const state = this.state(itemId);
      const ok = {} as Record<Group, boolean>;
      for (const group of GROUP_NAMES) ok[group] = this.check(itemId, m, group, state);
      if (!ok.item && !state.valid.item) return undefined;
      if (!ok.place && !state.valid.place) return undefined;
      return {
        get: (field) => {
          for (const group of GROUP_NAMES) {
            if (!(GROUPS[group].fields as readonly string[]).includes(field)) continue;
            return ok[group] ? m.get(field) : state.valid[group]?.values[field];
          }
          return m.get(field);
        },
      };
    } finally {
      const used = process.cpuUsage(started);
      this.checkNs += BigInt(used.user + used.system) * 1000n;
    }
  }

  forget(itemId: string): void {
    this.items.delete(itemId);
  }

  private state(itemId: string): ItemState {
    let s = this.items.get(itemId);
    if (!s) {
      s = { valid: {}, checked: {}, history: { maxEpoch: 0 } };
      this.items.set(itemId, s);
    }
    return s;
  }

  /** Whether the group as the document has it now verifies; a verified one becomes the last valid value. */
  private check(itemId: string, m: Y.Map<unknown>, group: Group, state: ItemState): boolean {
    const spec = GROUPS[group];
    const record = m.get(spec.sigKey);
    const raw = spec.fields.map((f) => m.get(f));
    const last = state.checked[group];
    if (last && last.record === record && last.values.every((v, i) => v === raw[i])) return last.ok;
    this.groupChecks += 1;
    const values: Record<string, unknown> = {};
    spec.fields.forEach((f, i) => {
      if (raw[i] !== undefined) values[f] = raw[i];
    });
    const problem = this.problem(itemId, group, record, values, state);
    state.checked[group] = { record, values: raw, ok: !problem };
    if (!problem) {
      this.accept(state, group, values, record as GroupRecord);
      return true;
    }
    const key = `${itemId}\0${group}\0${(record as { sig?: unknown } | undefined)?.sig ?? ""}\0${raw.length}`;
    if (!this.reported.has(key)) {
      this.reported.add(key);
      this.unverified += 1;
      for (const cb of this.listeners) cb({ item: itemId, group, reason: problem });
    }
    return false;
  }

  private accept(state: ItemState, group: Group, values: Record<string, unknown>, r: GroupRecord): void {
    state.valid[group] = { values, record: r };
    const epochs = [r.held?.epoch, (values.claim as Partial<SignedClaim> | null)?.epoch, values.epoch].filter((e): e is number =>
      Number.isSafeInteger(e),
    );
    state.history.maxEpoch = Math.max(state.history.maxEpoch, ...epochs);
    if (group === "place" && isStage(values.stage)) state.history.stage = values.stage;
  }

  private problem(itemId: string, group: Group, record: unknown, values: Record<string, unknown>, state: ItemState): string | undefined {
    this.settleLoaded(itemId, group, state);
    if (!recordShape(record)) return "unsigned";
    if (group === "item") {
      const bad = values.id !== itemId ? "id does not match its key" : itemFieldProblem(values);
      if (bad) return bad;
    }
    const prev = state.valid[group];
    if (prev && record.rev < prev.record.rev && !newerEpoch(group, values, prev.values))
      return `a replayed older write (rev ${record.rev} < ${prev.record.rev})`;
    let text: string;
    try {
      text = groupText(group, itemId, record.by, values, record.rev, record.held);
    } catch {
      return "not signable JSON";
    }
    if (!verifyCached(record.by, text, record.sig)) return "bad signature";
    const held = record.held === undefined ? undefined : this.validClaim(itemId, record.held);
    if (record.held !== undefined && !held) return "the claim it was written under does not verify";
    if (group === "place" && values.claim !== null && values.claim !== undefined && !this.validClaim(itemId, values.claim))
      return "the claim does not verify";
    const verdict = mayWrite(group, record.by, values, held, this.isOperator, state.history);
    return verdict.ok ? undefined : verdict.reason;
  }

  /** A claim signed by an operator (a grant) or by the node it names (autonomous). */
  private validClaim(itemId: string, c: unknown): SignedClaim | undefined {
    if (!claimShape(c)) return undefined;
    if (c.by !== c.node && !this.isOperator(c.by)) return undefined;
    return verifyCached(c.by, claimText(itemId, c.by, c), c.sig) ? c : undefined;
  }
}

/**
 * A place record carrying a higher epoch than the reader's valid one is no replay, whatever its
 * rev: epochs only grow along the causal history (a grant raises it, moves keep it), so a write
 * made after a grant the reader has not verified yet is newer, though it may count fewer revs
 * than a stale holder's writes the reader took (which the CRDT's tie-break then overwrote).
 */
function newerEpoch(group: Group, values: Record<string, unknown>, valid: Record<string, unknown>): boolean {
  return group === "place" && typeof values.epoch === "number" && typeof valid.epoch === "number" && values.epoch > valid.epoch;
}
