import { fetchOrigin } from "../git/git.js";
import type { JobContext } from "./job-context.js";

/**
 * Keeps origin's refs fresh in the background, so new worktrees start from a recent base without a
 * fetch on the claim path. One fetch at a time; an origin out of reach is not asked again every
 * scan but with backoff (from the scan interval up to `restart_max_secs`), since each
 * attempt is a git process that waits up to `git_timeout_secs`.
 */
export class BaseRefresh {
  private fetching = false;
  private failures = 0;
  private nextAt = 0;

  constructor(private readonly ctx: Pick<JobContext, "root" | "config" | "log" | "worktrees">) {}

  refresh(now = Date.now()): void {
    if (this.fetching || now < this.nextAt) return;
    this.fetching = true;
    fetchOrigin(this.ctx.root, { background: true })
      .then(() => {
        this.failures = 0;
        this.nextAt = 0;
        this.ctx.worktrees?.refresh();
      })
      .catch((err) => {
        this.failures += 1;
        const cfg = this.ctx.config.project;
        const wait = Math.min(cfg.restart_max_secs, cfg.scan_interval_secs * 2 ** (this.failures - 1)) * 1000;
        this.nextAt = Date.now() + wait;
        this.ctx.log.warn({ err: (err as Error).message, retryInMs: wait }, "background fetch failed");
      })
      .finally(() => {
        this.fetching = false;
      });
  }
}
