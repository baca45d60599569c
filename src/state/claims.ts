import * as Y from "yjs";
import { nextClaim } from "../pipeline/claim-rules.js";
import type { Stage } from "../pipeline/stages.js";
import { checkTransition, type TransitionContext } from "../pipeline/transitions.js";
import type { ItemPatch } from "./item.js";
import { groupsOfPatch, setAll, WRITE_CLAIM_FIELDS, type PipelineDoc, type Seal } from "./pipeline-doc.js";
import type { Author, SignedGroup } from "./write-authority.js";

const OPERATOR: Author = { as: "operator" };

/**
 * What a holder carries: the grant it was given. Every write a holder makes goes through
 * `moveAs`/`patchAs`/`release`, which refuse (return false) once the document's claim no longer
 * names this node with this epoch in this stage, so a stale holder's late write changes nothing.
 */
export interface ClaimToken {
  readonly id: string;
  readonly node: string;
  readonly epoch: number;
  readonly stage: Stage;
  /** The claim as the document had it when the token was issued (signed: a holder's writes carry it). */
  readonly signed?: unknown;
}

/** A move the transition table refuses: a caller's mistake, not a lost race. */
export class TransitionRefused extends Error {}

/**
 * The one write path for an item's `stage`, `claim`, `epoch` and `requests` (docs/architecture.md §2).
 * Everything that changes who holds an item or where it is goes through here, checked against the
 * transition table; nothing else in the code base writes those fields.
 */
export class Claims {
  constructor(readonly pipeline: PipelineDoc) {}

  /** Ask for an item (each node writes only its own key, so requests never conflict). */
  request(id: string, node: string, now = this.pipeline.clock.now()): void {
    this.write(id, (m) => requestsOf(m).set(node, now));
  }

  withdraw(id: string, node: string): void {
    if (this.pipeline.getItem(id)?.requests[node] === undefined) return;
    this.write(id, (m) => requestsOf(m).delete(node));
  }

  clearRequests(id: string): void {
    if (Object.keys(this.pipeline.getItem(id)?.requests ?? {}).length === 0) return;
    this.write(id, clearRequests);
  }

  /**
   * Give the item to `node` with the next epoch, in its current stage, and drop the pending
   * requests. The caller decides who deserves it (the sequencer, the hash rule, an operator).
   * The attempt's log will be on `node`, so `logNode` names it from the grant on: readers (board,
   * `story log`) follow it there, and the grantee has nothing to write when it starts (that write
   * was a third of the updates of a story's trip through `current`).
   */
  grant(id: string, node: string, now = this.pipeline.clock.now()): ClaimToken | undefined {
    const item = this.pipeline.getItem(id);
    if (!item) return undefined;
    const plain = nextClaim(node, item.epoch, item.stage, now);
    const claim: Record<string, unknown> = this.pipeline.authority?.signClaim(id, plain) ?? { ...plain };
    // A node granting itself (autonomous) writes as the holder of the claim it just signed.
    const author: Author = claim.by === node ? { as: "holder", claim } : OPERATOR;
    this.write(
      id,
      (m) => {
        m.set("claim", claim);
        m.set("epoch", plain.epoch);
        if (m.get("logNode") !== node) m.set("logNode", node);
        clearRequests(m);
      },
      ["place"],
      author,
    );
    const token = { id, node, epoch: plain.epoch, stage: plain.stage };
    return this.pipeline.authority ? { ...token, signed: claim } : token;
  }

  /** The token `node` holds on `id` now, if the document's claim names it. */
  tokenOf(id: string, node: string): ClaimToken | undefined {
    const c = this.pipeline.getItem(id)?.claim;
    if (!c || c.node !== node) return undefined;
    return this.pipeline.authority
      ? { id, node, epoch: c.epoch, stage: c.stage, signed: this.rawClaim(id) }
      : { id, node, epoch: c.epoch, stage: c.stage };
  }

  /**
   * The claim object for `id` with its grantor's signature, as this node reads it: the last valid
   * one when the document holds a write this node refused (a stale holder's), whose claim would
   * make every write under this token unverifiable.
   */
  private rawClaim(id: string): unknown {
    const m = this.pipeline.items.get(id);
    if (!(m instanceof Y.Map)) return undefined;
    const authority = this.pipeline.authority;
    return authority ? authority.read(id, m)?.get("claim") : m.get("claim");
  }

  private holder(token: ClaimToken): Author {
    return { as: "holder", claim: token.signed ?? this.rawClaim(token.id) };
  }

  /** Whether `token` is still the item's claim, for the same stage. */
  holds(token: ClaimToken): boolean {
    const item = this.pipeline.getItem(token.id);
    const c = item?.claim;
    return !!item && !!c && item.stage === token.stage && c.stage === token.stage && c.node === token.node && c.epoch === token.epoch;
  }

  /** Give the item back (the stage stays); false when the token is stale. */
  release(token: ClaimToken, patch: ItemPatch = {}): boolean {
    if (!this.holds(token)) return false;
    this.write(
      token.id,
      (m) => {
        m.set("claim", null);
        setAll(m, patch);
      },
      ["place", ...groupsOfPatch(patch)],
      this.holder(token),
    );
    return true;
  }

  /**
   * Ask the rendezvous for a tick as the holder (see src/pipeline/tick-request.ts): the request
   * goes into its own key of the item's `tickRequests`, so concurrent requests never conflict.
   * False when the token is stale.
   */
  requestTick(token: ClaimToken, key: string, request: Record<string, unknown>): boolean {
    if (!this.holds(token)) return false;
    this.write(token.id, (m) => mapOf(m, "tickRequests").set(key, request));
    return true;
  }

  /** Drop every tick request of an item (the rendezvous, once it has judged them, in the same pass). */
  clearTickRequests(id: string, patch: ItemPatch = {}): void {
    this.write(
      id,
      (m) => {
        const req = m.get("tickRequests");
        if (req instanceof Y.Map) for (const k of [...req.keys()]) req.delete(k);
        setAll(m, patch);
      },
      groupsOfPatch(patch),
    );
  }

  /** Write plain fields as the holder; false when the token is stale. */
  patchAs(token: ClaimToken, patch: ItemPatch): boolean {
    if (!this.holds(token)) return false;
    this.write(token.id, (m) => setAll(m, patch), groupsOfPatch(patch), this.holder(token));
    return true;
  }

  /**
   * Move the item as its holder. False when the token is stale; throws `TransitionRefused` when
   * the transition table forbids the move (a bug in the caller, never a race).
   */
  moveAs(token: ClaimToken, to: Stage, ctx: TransitionContext, patch: ItemPatch = {}, now = this.pipeline.clock.now()): boolean {
    if (!this.holds(token)) return false;
    this.moveWith(token.id, to, ctx, patch, now, this.holder(token));
    return true;
  }

  /**
   * Move on as the node that just moved the item out of its claim's stage (server QA: the coder
   * that submitted to `qa` passes it to `merge`). Its right is the claim it held, so the write
   * carries that claim; false when someone else has written the item's place since.
   */
  moveOnAs(token: ClaimToken, from: Stage, to: Stage, ctx: TransitionContext, now = this.pipeline.clock.now()): boolean {
    const item = this.pipeline.getItem(token.id);
    if (!item || item.stage !== from || item.claim !== null || item.epoch !== token.epoch) return false;
    this.moveWith(token.id, to, ctx, {}, now, this.holder(token));
    return true;
  }

  /**
   * Move without a claim (operators, housekeeping). The claim and pending requests belong to the
   * stage being left, so both are cleared.
   */
  move(id: string, to: Stage, ctx: TransitionContext, patch: ItemPatch = {}, now = this.pipeline.clock.now()): void {
    this.moveWith(id, to, ctx, patch, now, OPERATOR);
  }

  private moveWith(id: string, to: Stage, ctx: TransitionContext, patch: ItemPatch, now: number, author: Author): void {
    const item = this.pipeline.getItem(id);
    if (!item) throw new TransitionRefused(`unknown item ${id}`);
    const verdict = checkTransition(item.stage, to, ctx);
    if (!verdict.ok) throw new TransitionRefused(`cannot move ${id}: ${verdict.error}`);
    this.write(
      id,
      (m) => {
        m.set("stage", to);
        m.set("stageAt", now);
        m.set("claim", null);
        clearRequests(m);
        setAll(m, patch);
      },
      ["place", ...groupsOfPatch(patch)],
      author,
    );
  }

  /** Drop whatever claim the item has (operator release, block); the holder stops its coder. */
  clear(id: string, patch: ItemPatch = {}): void {
    this.write(
      id,
      (m) => {
        m.set("claim", null);
        setAll(m, patch);
      },
      ["place", ...groupsOfPatch(patch)],
      OPERATOR,
    );
  }

  /**
   * Write a signed group back exactly as it was last verified (the rendezvous, after an
   * unverified write to it): the values and their signature record, nothing re-signed.
   */
  restore(id: string, fields: readonly string[], values: Record<string, unknown>, sigKey: string, record: unknown): void {
    this.write(id, (m) => {
      for (const f of fields) {
        const v = values[f];
        if (v === undefined) {
          if (m.has(f)) m.delete(f);
        } else m.set(f, v);
      }
      m.set(sigKey, record);
    });
  }

  private write(id: string, fn: (m: Y.Map<unknown>) => void, groups: readonly SignedGroup[] = [], author: Author = OPERATOR): void {
    const seal: Seal | undefined = groups.length ? { groups, author } : undefined;
    this.pipeline[WRITE_CLAIM_FIELDS](id, fn, seal);
  }
}

function requestsOf(m: Y.Map<unknown>): Y.Map<unknown> {
  return mapOf(m, "requests");
}

function mapOf(m: Y.Map<unknown>, field: string): Y.Map<unknown> {
  let req = m.get(field);
  if (!(req instanceof Y.Map)) {
    req = new Y.Map<unknown>();
    m.set(field, req);
  }
  return req as Y.Map<unknown>;
}

function clearRequests(m: Y.Map<unknown>): void {
  const req = m.get("requests");
  if (req instanceof Y.Map && req.size > 0) for (const k of [...req.keys()]) req.delete(k);
}
