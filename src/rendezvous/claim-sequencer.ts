import type { Logger } from "pino";
import { hashWinner } from "../pipeline/claim-rules.js";
import type { LiveConfig } from "../config/live-config.js";
import { ClaimView, claimTimings } from "../state/claim-view.js";
import type { Claims } from "../state/claims.js";

/** Stages where nothing is claimed: requests there are dropped. */
const UNCLAIMABLE = new Set(["backlog", "done", "archived"]);

/**
 * The rendezvous side of claiming: agents write requests under their own node id; this grants
 * each unclaimed item to one live requester, raising the item's epoch. Runs on every document
 * change, over the requested items only (an index), so a grant follows a request within one
 * sync round trip whatever the size of the project.
 */
export class ClaimSequencer {
  constructor(private readonly claims: Claims, private readonly config: LiveConfig, private readonly log: Logger) {}

  grant(now = Date.now()): number {
    const view = new ClaimView(this.claims.pipeline, claimTimings(this.config.project), now);
    let granted = 0;
    for (const item of this.claims.pipeline.listRequested()) {
      // Blocked or finished items, or ones already held: drop the requests so the askers look elsewhere.
      if (item.blocked || UNCLAIMABLE.has(item.stage) || view.live(item)) {
        this.claims.clearRequests(item.id);
        continue;
      }
      const winner = hashWinner(Object.keys(item.requests).filter((r) => view.alive(r)), item.id);
      if (!winner) continue;
      const token = this.claims.grant(item.id, winner, now);
      this.log.debug({ story: item.id, node: winner.slice(0, 12), epoch: token?.epoch }, "claim granted");
      granted += 1;
    }
    return granted;
  }
}
