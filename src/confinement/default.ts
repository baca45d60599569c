import { Confinement } from "./confine.js";
import { probeSandboxSync } from "./probe.js";

let fallback: Confinement | undefined;

/**
 * The confinement a run uses: the node's (`spec.confinement`), else one shared by callers that
 * run outside a node (a runtime driven directly, as the conformance suite does). The shared one
 * probes the sandbox once, blocking, and has no egress proxy: its bwrap runs get no network.
 */
export function confinementFor(spec: { confinement?: Confinement }): Confinement {
  if (spec.confinement) return spec.confinement;
  if (!fallback) {
    fallback = new Confinement();
    fallback.probe = probeSandboxSync();
  }
  return fallback;
}
