import { huskiesDir } from "../config/project-root.js";
import type { WorktreeState } from "../git/worktree.js";
import { WorktreePool } from "../git/worktree-pool.js";
import type { JobContext } from "./job-context.js";
import { PidRecords } from "./pid-records.js";
import { reconcileWorktrees } from "./reconcile.js";
import type { RendezvousWatch } from "./rendezvous-watch.js";
import { WorkLoop } from "./work-loop.js";

export interface AgentServiceOptions {
  /** Everything a job may touch, but the pid records, which this service keeps. */
  ctx: Omit<JobContext, "trackPid">;
  /** Agents follow a rendezvous; undefined on the rendezvous itself (it is the sequencer). */
  watch?: RendezvousWatch;
  /** Resolves once the replica is fresh enough to act on (first sync, or a bounded wait). */
  ready: () => Promise<void>;
  acceptsWork: () => boolean;
  /** The set of kept worktrees changed (for this node's entry). */
  keptChanged: () => void;
}

/**
 * The build-agent side of a node: kill coders a crashed previous life left, reconcile its
 * worktrees once the replica is fresh, then run the work loop. `stop` stops every job (confirmed
 * gone) and gives claims back.
 */
export class AgentService {
  loop: WorkLoop | undefined;
  private readonly kept = new Map<string, WorktreeState>();
  private readonly pids: PidRecords;
  private readonly ctx: JobContext;
  private readonly worktrees: WorktreePool;
  private stopped = false;

  constructor(private readonly opts: AgentServiceOptions) {
    this.pids = new PidRecords(huskiesDir(opts.ctx.root, "running.json"));
    this.worktrees = new WorktreePool(opts.ctx.root, opts.ctx.baseBranch, opts.ctx.log.child({ component: "worktree-pool" }));
    this.ctx = { ...opts.ctx, trackPid: (id, pid) => this.pids.set(id, pid), worktrees: this.worktrees };
  }

  /** `worktree_pool`, by default one prepared worktree per coder slot. */
  private poolSize(): number {
    return this.ctx.config.project.worktree_pool ?? this.ctx.pool.capacity("coder");
  }

  async start(): Promise<void> {
    const { ctx } = this;
    const orphans = await this.pids.killOrphans();
    if (orphans.length) ctx.log.warn({ stories: orphans }, "killed coders left running by a previous run");
    await this.opts.ready();
    if (this.stopped) return;
    // Commits a run made before this node died are in its git view until taken back.
    await ctx.confinement
      ?.recoverViews()
      .catch((err: unknown) => ctx.log.error({ err: (err as Error).message }, "taking back left git views failed"));
    const result = await reconcileWorktrees(ctx).catch((err: unknown) => {
      ctx.log.error({ err: (err as Error).message }, "worktree reconcile failed");
      return undefined;
    });
    if (result && (result.pushed.length || result.released.length || result.removed.length || result.kept.length))
      ctx.log.info(result, "worktrees reconciled");
    for (const k of result?.kept ?? []) this.kept.set(k.id, k.state);
    if (this.kept.size) this.opts.keptChanged();
    if (this.stopped) return;
    // After reconcile (both run git on the worktrees); filling happens in the background.
    this.worktrees.start(this.poolSize());
    const onConfig = () => this.worktrees.resize(this.poolSize());
    ctx.config.on("change", onConfig);
    this.offConfig = () => ctx.config.off("change", onConfig);
    this.loop = new WorkLoop(ctx, this.opts.watch, {
      acceptsWork: this.opts.acceptsWork,
      worktreeKept: (id, state) => {
        if (state) this.kept.set(id, state as WorktreeState);
        else this.kept.delete(id);
        this.opts.keptChanged();
      },
    });
    this.loop.start();
  }

  /** Worktrees kept although their story is finished or gone, with why. */
  keptWorktrees(): Array<{ id: string; state: string }> {
    return [...this.kept].map(([id, state]) => ({ id, state }));
  }

  running(): string[] {
    return this.loop?.running() ?? [];
  }

  private offConfig: () => void = () => undefined;

  async stop(): Promise<void> {
    this.stopped = true;
    this.offConfig();
    this.opts.watch?.stop();
    await this.loop?.stop();
    await this.worktrees.stop();
  }
}
