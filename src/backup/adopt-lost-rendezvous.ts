import type { Claims } from "../state/claims.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { Identity } from "../trust/identity.js";
import { REVOCATIONS_MAP, Revocations } from "../trust/revocations.js";
import { signRecord, verifyRecord } from "../trust/signed-record.js";
import { CONTROL_KIND, type Directive } from "../node/operator-directives.js";

export interface Adopted {
  /** Revocations the lost rendezvous had signed, signed again by the new one (same `at`). */
  revocations: number;
  /** Operators' pause/resume directives the lost rendezvous had signed, signed again. */
  directives: number;
  /** Items whose claim named the lost rendezvous (its own slots are gone with it): released. */
  released: string[];
}

/**
 * A new rendezvous (`identity`) takes over a replica whose rendezvous (`lostKey`) is gone. What
 * the lost key signed stops counting once agents follow the new key, so what only ever takes
 * trust away or holds work back is carried over under the new signature: revocations (a key the
 * operator revoked stays revoked) and operators' directives (a paused node stays paused). Each is
 * checked against the lost key first, so nothing unsigned in the replica is adopted. Admission
 * certificates are not carried over: admitting keys again is the operator's decision (new join
 * strings). Claims held by the lost rendezvous' own slots are released, so the work does not
 * wait `claim_timeout_secs` for a node that will never come back.
 */
export function adoptLostRendezvous(pipeline: PipelineDoc, claims: Claims, identity: Identity, lostKey: string): Adopted {
  const doc = pipeline.doc;
  const adopted: Adopted = { revocations: 0, directives: 0, released: [] };
  const old = new Revocations(doc, (key) => key === lostKey);
  const revoked: Array<[string, number]> = [];
  doc.getMap(REVOCATIONS_MAP).forEach((_v, node) => {
    const at = old.revokedAt(node);
    if (at !== undefined) revoked.push([node, at]);
  });
  const control = doc.getMap("control");
  const directives: Directive[] = [];
  control.forEach((v, node) => {
    const d = v as Partial<Directive> | null;
    if (d && typeof d === "object" && d.node === node && d.issuer === lostKey && verifyRecord(CONTROL_KIND, lostKey, d))
      directives.push(d as Directive);
  });
  pipeline.transact(() => {
    const next = new Revocations(doc, (key) => key === identity.nodeId);
    for (const [node, at] of revoked) next.revoke(identity, node, at);
    for (const d of directives)
      control.set(d.node, signRecord(identity, CONTROL_KIND, { node: d.node, pause: d.pause, at: d.at, issuer: identity.nodeId }));
    for (const item of pipeline.listItems()) {
      if (item.claim?.node !== lostKey) continue;
      claims.clear(item.id);
      adopted.released.push(item.id);
    }
  });
  adopted.revocations = revoked.length;
  adopted.directives = directives.length;
  return adopted;
}
