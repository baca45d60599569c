import { hashWinner, nextClaim } from "../pipeline/claim-rules.js";
import type { LiveConfig } from "../config/live-config.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import { ClaimView } from "./claim-view.js";
import { logger } from "../log.js";

const log = logger("sequencer");

/**
 * The rendezvous side of claiming: agents write requests under their own node id; this grants
 * each unclaimed item to one live requester, raising the item's epoch. Runs on every document
 * change, so a grant follows a request within one sync round trip.
 */
export class ClaimSequencer {
  private pending = false;

  constructor(private readonly pipeline: PipelineDoc, private readonly config: LiveConfig) {
    pipeline.onChange(() => this.schedule());
  }

  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.grant();
    });
  }

  grant(now = Date.now()): number {
    const view = new ClaimView(this.pipeline, this.config.project, now);
    let granted = 0;
    for (const item of this.pipeline.listRequested()) {
      const requesters = Object.keys(item.requests);
      if (requesters.length === 0) continue;
      if (item.blocked || item.stage === "done" || item.stage === "archived" || item.stage === "backlog") {
        this.pipeline.clearRequests(item.id);
        continue;
      }
      if (view.live(item)) {
        // Already held: drop the requests so the askers look elsewhere.
        this.pipeline.clearRequests(item.id);
        continue;
      }
      const winner = hashWinner(requesters.filter((r) => view.alive(r)), item.id);
      if (!winner) continue;
      const claim = nextClaim(winner, item.epoch, item.stage, now);
      this.pipeline.transact(() => {
        this.pipeline.update(item.id, { claim, epoch: claim.epoch });
        this.pipeline.clearRequests(item.id);
      });
      log.debug({ story: item.id, node: winner.slice(0, 12), epoch: claim.epoch }, "claim granted");
      granted += 1;
    }
    return granted;
  }
}
