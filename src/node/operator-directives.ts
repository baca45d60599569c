import * as Y from "yjs";
import type { Logger } from "pino";
import type { Identity } from "../trust/identity.js";
import { isNodeId } from "../state/document-reader.js";
import { signRecord, verifyRecord } from "../trust/signed-record.js";

/** Where a node keeps the last directive it applied and, on the rendezvous, those it issued (see trust-state.ts). */
export interface DirectiveStore {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

const APPLIED = "directive-applied";
const ISSUED = "directives-issued";

export const CONTROL_KIND = "huskies-control-v1";

/** An operator's word to one node, signed by the rendezvous that relayed it. */
export interface Directive {
  node: string;
  /** Pause with this reason, or null to resume. */
  pause: { reason: string } | null;
  at: number;
  issuer: string;
  sig: string;
}

/**
 * Operator directives (pause/resume a node) travel in the document's `control` map, one entry per
 * node, written only by the rendezvous and signed with its key: a node's own entry is written by
 * that node alone, so the operator's wish has to live elsewhere, and an entry anyone else wrote
 * is ignored. A directive persists, so a node paused by an operator stays paused across restarts.
 *
 * Directives stick (issue 27): the last one applied is kept in the node's own store and applied
 * again at start, so deleting `control[A]` changes nothing, and a replayed older directive
 * (`at` not above the kept one) is ignored across restarts. The rendezvous keeps what it issued
 * and writes an entry back when a peer deletes or spoils it.
 */
export class OperatorDirectives {
  readonly map: Y.Map<unknown>;
  private applied = 0;
  private readonly handler = (e: Y.YMapEvent<unknown>) => {
    this.check();
    // On the rendezvous: an entry it issued was deleted or overwritten; put it back after this transaction.
    if (!e.transaction.local && this.store?.get(ISSUED)) setImmediate(() => this.safely(() => this.reassert()));
  };

  constructor(
    doc: Y.Doc,
    private readonly identity: Identity,
    /** Keys whose directives this node obeys: the rendezvous it follows (and itself). */
    private readonly trustedIssuer: (issuer: string) => boolean,
    private readonly apply: (pause: Directive["pause"]) => void,
    private readonly log: Logger,
    private readonly store?: DirectiveStore,
    /** A directive for this node that does not verify (counted once per signature). */
    private readonly onUnverified?: (key: string) => void,
  ) {
    this.map = doc.getMap("control");
  }

  start(): void {
    const kept = this.read<Directive>(APPLIED);
    if (kept && typeof kept.at === "number") {
      this.applied = kept.at;
      this.safely(() => this.apply(kept.pause ?? null));
    }
    this.map.observe(this.handler);
    this.check();
  }

  /** The rendezvous writes a directive for `node` (and keeps it, to write it back if it goes missing). */
  issue(node: string, pause: Directive["pause"], now = Date.now()): void {
    const d = signRecord(this.identity, CONTROL_KIND, { node, pause, at: now, issuer: this.identity.nodeId });
    this.map.set(node, d);
    const issued = this.read<Record<string, Directive>>(ISSUED) ?? {};
    issued[node] = d;
    this.write(ISSUED, issued);
  }

  /** The rendezvous: put back every directive it issued that the document lacks or holds spoiled. */
  reassert(): number {
    const issued = this.read<Record<string, Directive>>(ISSUED) ?? {};
    let n = 0;
    this.map.doc?.transact(() => {
      for (const [node, d] of Object.entries(issued)) {
        const now = this.map.get(node) as Partial<Directive> | undefined;
        if (now && now.sig === d.sig) continue;
        if (now && typeof now.at === "number" && now.at > d.at && this.valid(now as Directive)) continue;
        this.map.set(node, { ...d });
        n += 1;
      }
    });
    if (n) this.log.warn({ entries: n }, "operator directives missing from the document written back");
    return n;
  }

  /** The directive for this node, if any valid one exists. */
  current(): Directive | undefined {
    const d = this.map.get(this.identity.nodeId) as Partial<Directive> | undefined;
    if (
      !d ||
      typeof d !== "object" ||
      d.node !== this.identity.nodeId ||
      typeof d.at !== "number" ||
      !isNodeId(d.issuer) ||
      typeof d.sig !== "string"
    )
      return undefined;
    const pause =
      d.pause === null ? null : d.pause && typeof d.pause.reason === "string" ? { reason: d.pause.reason.slice(0, 300) } : undefined;
    if (pause === undefined) return undefined;
    const directive = { node: d.node, pause, at: d.at, issuer: d.issuer, sig: d.sig };
    if (this.valid(directive)) return directive;
    this.onUnverified?.(`control\0${d.sig}`);
    return undefined;
  }

  private valid(d: Directive): boolean {
    return this.trustedIssuer(d.issuer) && verifyRecord(CONTROL_KIND, d.issuer, d);
  }

  /** Re-check (e.g. once the rendezvous key is known). */
  check(): void {
    this.safely(() => {
      const d = this.current();
      if (!d || d.at <= this.applied) return;
      this.applied = d.at;
      this.write(APPLIED, d);
      this.apply(d.pause);
    });
  }

  private read<T>(name: string): T | undefined {
    const raw = this.store?.get(name);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return undefined;
    }
  }

  private write(name: string, value: unknown): void {
    try {
      this.store?.set(name, JSON.stringify(value));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "could not keep an operator directive (kept in memory)");
    }
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, "could not apply an operator directive");
    }
  }

  stop(): void {
    this.map.unobserve(this.handler);
  }
}
