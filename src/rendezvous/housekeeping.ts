import type { Logger } from "pino";
import type { LiveConfig } from "../config/live-config.js";
import { ClaimView, claimTimings } from "../state/claim-view.js";
import type { Claims } from "../state/claims.js";

/**
 * Rendezvous-only chores: archive `done` items after `archive_after_secs` (on the scan timer: a
 * project keeps thousands of done items and a heartbeat must not walk them), and promote
 * `backlog` items to `current` when their dependencies are done and coders are free (on every
 * change, so work starts at once).
 */
export class Housekeeping {
  constructor(
    private readonly claims: Claims,
    private readonly config: LiveConfig,
    private readonly log: Logger,
  ) {}

  archive(now = this.claims.pipeline.clock.now()): void {
    const pipeline = this.claims.pipeline;
    // Unsorted, from the index: a scan walks every done item, and ordering them is wasted work.
    for (const id of [...pipeline.idsIn("done")]) {
      const item = pipeline.getItem(id);
      if (!item || now - item.stageAt < this.config.project.archive_after_secs * 1000) continue;
      this.claims.move(item.id, "archived", { actor: "system" });
      this.log.info({ story: item.id }, "archived");
    }
  }

  promote(): void {
    const cfg = this.config.project;
    const pipeline = this.claims.pipeline;
    if (!cfg.auto_promote || pipeline.idsIn("backlog").size === 0) return;
    const view = new ClaimView(pipeline, claimTimings(cfg));
    let free = view.freeSlots("coder", pipeline.listItemsIn(["current"]));
    if (free <= 0) return;
    // A dependency is met once it is done or archived; an unknown id never is (a typo must not
    // release work early; an operator can edit `dependsOn`).
    const met = (id: string) => {
      const st = pipeline.getItem(id)?.stage;
      return st === "done" || st === "archived";
    };
    for (const item of pipeline.listItemsIn(["backlog"])) {
      if (free <= 0) break;
      if (item.blocked || !item.dependsOn.every(met)) continue;
      this.claims.move(item.id, "current", { actor: "system" });
      this.log.info({ story: item.id }, "promoted to current");
      free -= 1;
    }
  }
}
