import * as Y from "yjs";
import type { Logger } from "pino";
import type { Identity } from "../trust/identity.js";
import { isNodeId } from "../state/document-reader.js";
import { signRecord, verifyRecord } from "../trust/signed-record.js";

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
 */
export class OperatorDirectives {
  readonly map: Y.Map<unknown>;
  private applied = 0;
  private readonly handler = () => this.check();

  constructor(
    doc: Y.Doc,
    private readonly identity: Identity,
    /** Keys whose directives this node obeys: the rendezvous it follows (and itself). */
    private readonly trustedIssuer: (issuer: string) => boolean,
    private readonly apply: (pause: Directive["pause"]) => void,
    private readonly log: Logger,
  ) {
    this.map = doc.getMap("control");
  }

  start(): void {
    this.map.observe(this.handler);
    this.check();
  }

  /** The rendezvous writes a directive for `node`. */
  issue(node: string, pause: Directive["pause"], now = Date.now()): void {
    this.map.set(node, signRecord(this.identity, CONTROL_KIND, { node, pause, at: now, issuer: this.identity.nodeId }));
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
    if (pause === undefined || !this.trustedIssuer(d.issuer)) return undefined;
    const directive = { node: d.node, pause, at: d.at, issuer: d.issuer, sig: d.sig };
    return verifyRecord(CONTROL_KIND, d.issuer, directive) ? directive : undefined;
  }

  /** Re-check (e.g. once the rendezvous key is known). */
  check(): void {
    try {
      const d = this.current();
      if (!d || d.at <= this.applied) return;
      this.applied = d.at;
      this.apply(d.pause);
    } catch (err) {
      this.log.error({ err }, "could not apply an operator directive");
    }
  }

  stop(): void {
    this.map.unobserve(this.handler);
  }
}
