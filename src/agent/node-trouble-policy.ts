import { statfsSync } from "node:fs";
import { LOW_DISK_BYTES } from "../config/defaults.js";
import { troubleVerdict, type NodeTrouble } from "../pipeline/node-trouble.js";
import type { ClaimToken } from "../state/claims.js";
import type { ItemPatch } from "../state/item.js";
import type { JobContext } from "./job-context.js";

/**
 * Trouble on the node is the node's (rule 2). The node pauses first (with backoff, like a
 * logged-out runtime), so the release below does not make this node ask for work again; then the
 * claim goes back untouched: no retry spent, no failure text fed to the next coder. A story that
 * has now troubled two different nodes in a way it may cause (disk, memory, its own folder) is
 * blocked with `node_trouble_everywhere` instead, so it cannot pause the whole fleet for ever;
 * the rendezvous notifies `blocked` with that kind.
 *
 * Returns what happened to the claim, for the job's log note.
 */
export function handBackForTrouble(
  ctx: JobContext,
  token: ClaimToken,
  trouble: NodeTrouble,
  patch: ItemPatch = {},
): "released" | "blocked" | "stale" {
  const item = ctx.pipeline.getItem(token.id);
  ctx.health.nodeFailure(trouble.reason, { cause: "trouble" });
  if (!item || !ctx.claims.holds(token)) return "stale";
  const v = troubleVerdict(item.troubledNodes ?? [], ctx.nodeId, trouble);
  const troubled = v.troubledNodes.length ? { troubledNodes: v.troubledNodes } : {};
  if (v.everywhere) {
    const blocked = `node trouble on ${v.troubledNodes.length} nodes (${trouble.kind}): ${trouble.reason}`.slice(0, 300);
    ctx.claims.release(token, { ...patch, ...troubled, blocked, failure: { kind: "node_trouble_everywhere", message: blocked } });
    ctx.log.error(
      { story: token.id, kind: trouble.kind, nodes: v.troubledNodes.map((n) => n.slice(0, 12)) },
      `story blocked: it caused node trouble on ${v.troubledNodes.length} different nodes (${trouble.reason}); fix the story, then unblock it`,
    );
    return "blocked";
  }
  ctx.claims.release(token, { ...patch, ...troubled });
  ctx.log.error(
    { story: token.id, kind: trouble.kind, reason: trouble.reason },
    `node trouble: claim given back (no retry spent), node paused; ${advice(trouble)}`,
  );
  return "released";
}

/** What a person can do about it, in a few words. */
function advice(t: NodeTrouble): string {
  switch (t.kind) {
    case "disk_full":
      return "free disk space on this machine";
    case "disk_error":
      return "check this machine's disk";
    case "out_of_memory":
      return "this machine ran out of memory";
    case "origin_unreachable":
      return "check that this machine reaches origin";
    case "missing_path":
      return "something removed files huskies works in";
    case "store":
      return "check the replica store (.huskies/replica.db)";
    default:
      return "check this machine";
  }
}

/** Free bytes for an unprivileged writer on the disk holding `path`; undefined when it cannot be told. */
export function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/** The disk under `path` is full (judged by what is true, not by an error message). */
export function diskFull(path: string): NodeTrouble | undefined {
  const free = freeBytes(path);
  if (free === undefined || free >= LOW_DISK_BYTES) return undefined;
  return { kind: "disk_full", reason: `disk full: ${free} bytes free under ${path}`, storyMayCause: true };
}
