import type { Logger } from "pino";
import { judgeTick, TICK_KIND } from "../pipeline/tick-request.js";
import type { Claims } from "../state/claims.js";
import { verifyRecord } from "../trust/signed-record.js";

const HELD_STAGES = ["current", "qa", "merge"] as const;

/**
 * The rendezvous applies the ticks holders asked for (src/pipeline/tick-request.ts): a request
 * signed by the node that holds the story at that epoch ticks its criterion, written with the
 * rendezvous' operator key; every request it judged, applied or not, leaves the item in the same
 * write. Returns how many ticks it applied.
 */
export function applyTickRequests(claims: Claims, log: Logger): number {
  const pipeline = claims.pipeline;
  if (pipeline.readOnly) return 0; // see SchemaGuard
  let applied = 0;
  // Only held stories can have valid requests; a request left on another goes with its next one.
  for (const item of pipeline.listItemsIn(HELD_STAGES)) {
    const requests = item.tickRequests;
    if (!requests) continue;
    let body = item.body;
    for (const r of Object.values(requests).sort((a, b) => a.at - b.at)) {
      const verdict = verifyRecord(TICK_KIND, r.node, r)
        ? judgeTick(r, { ...item, body })
        : { ok: false as const, reason: "bad signature" };
      if (verdict.ok) {
        applied += verdict.body === body ? 0 : 1;
        body = verdict.body;
      } else log.warn({ story: item.id, node: r.node.slice(0, 16), reason: verdict.reason }, "ignoring a tick request");
    }
    claims.clearTickRequests(item.id, body === item.body ? {} : { body });
  }
  return applied;
}
