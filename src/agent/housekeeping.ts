import type { LiveConfig } from "../config/live-config.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import { ClaimView } from "./claim-view.js";
import { logger } from "../log.js";

const log = logger("housekeeping");

/**
 * Rendezvous-only chores: archive `done` items after `archive_after_secs`, and promote
 * `backlog` items to `current` when their dependencies are done and coders are free.
 */
export class Housekeeping {
  private pending = false;

  constructor(private readonly pipeline: PipelineDoc, private readonly config: LiveConfig) {
    pipeline.onChange(() => this.schedule());
  }

  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.run();
    });
  }

  run(now = Date.now()): void {
    const cfg = this.config.project;
    const items = this.pipeline.listItemsIn(["backlog", "current", "done"]);
    for (const item of items) {
      if (item.stage === "done" && now - item.stageAt >= cfg.archive_after_secs * 1000) {
        this.pipeline.move(item.id, "archived", { actor: "system" });
        log.info({ story: item.id }, "archived");
      }
    }
    if (!cfg.auto_promote) return;
    const view = new ClaimView(this.pipeline, cfg, now);
    const coderSlots = [...view.nodes.values()].filter((n) => view.alive(n.id)).reduce((sum, n) => sum + (n.capacity?.coder ?? 0), 0);
    let free = coderSlots - items.filter((i) => i.stage === "current" && !i.blocked).length;
    const waiting = items.filter((i) => i.stage === "backlog" && !i.blocked);
    if (waiting.length === 0) return;
    // A dependency is met once it is done or archived; an unknown id never is (a typo must not
    // release work early; an operator can edit `dependsOn`).
    const met = (id: string) => { const d = this.pipeline.getItem(id); return !!d && (d.stage === "done" || d.stage === "archived"); };
    for (const item of waiting) {
      if (free <= 0) break;
      if (!item.dependsOn.every(met)) continue;
      this.pipeline.move(item.id, "current", { actor: "system" });
      log.info({ story: item.id }, "promoted to current");
      free -= 1;
    }
  }
}
