import { Confinement } from "./confine.js";

let fallback: Confinement | undefined;

/**
 * The confinement a run uses: the node's (`spec.confinement`), else one shared by callers that
 * run outside a node (a runtime driven directly, as the conformance suite does). The shared one
 * is never probed, so `auto` runs go unconfined with the usual warning and `required` refuses.
 */
export function confinementFor(spec: { confinement?: Confinement }): Confinement {
  return spec.confinement ?? (fallback ??= new Confinement());
}
