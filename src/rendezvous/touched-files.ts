import type { Logger } from "pino";
import { branchFiles } from "../git/branch-diff.js";
import type { Stage } from "../pipeline/stages.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";

/** Stages where a story's pushed branch is in flight (not landed yet). */
const IN_FLIGHT: ReadonlySet<Stage | undefined> = new Set<Stage | undefined>(["current", "qa", "merge"]);

/**
 * The files each story in flight has touched, read from its pushed branch (issue 29.2), for the
 * sequencer's collision-avoiding grants and the merge queue. Git runs here, in the background, one
 * story at a time, never on the grant path: the sequencer only reads the cache. Entries are keyed
 * by the branch's head, so a branch is diffed again only when a push moved it; a story with a pushed
 * branch is looked at when it changes stage within `current`/`qa`/`merge` (a push comes with a
 * move to `qa`), and forgotten when it lands or leaves.
 */
export class TouchedFiles {
  private readonly cache = new Map<string, { head: string; files: readonly string[] }>();
  private readonly queue = new Set<string>();
  private running = false;
  private stopped = false;
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly root: string,
    private readonly baseBranch: () => Promise<string> | string,
    private readonly pipeline: PipelineDoc,
    private readonly log: Logger,
    /** Called when a story's files became known or changed: the sequencer passes again. */
    private readonly changed: () => void,
  ) {}

  start(): void {
    this.unsubscribe = this.pipeline.onStageChange((ev) => {
      if (!IN_FLIGHT.has(ev.to)) return void this.cache.delete(ev.id);
      // Only a story with a pushed branch has files to read (its coder names the branch on submit).
      if (this.pipeline.getItem(ev.id)?.branch) this.look(ev.id);
    });
    for (const item of this.pipeline.listItemsIn(["current", "qa", "merge"])) if (item.branch) this.look(item.id);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  /** The files the story's pushed branch changes, if known. */
  files(id: string): readonly string[] | undefined {
    return this.cache.get(id)?.files;
  }

  /** Whether anything is known at all (the sequencer skips its overlap work when not). */
  get size(): number {
    return this.cache.size;
  }

  private look(id: string): void {
    this.queue.add(id);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.size && !this.stopped) {
        const id = this.queue.values().next().value as string;
        this.queue.delete(id);
        if (!IN_FLIGHT.has(this.pipeline.getItem(id)?.stage)) continue;
        await this.refresh(id);
      }
    } finally {
      this.running = false;
    }
  }

  private async refresh(id: string): Promise<void> {
    const known = this.cache.get(id);
    try {
      const r = await branchFiles(this.root, await this.baseBranch(), id, known?.head, { background: true });
      if (!r || !r.files || this.stopped || !IN_FLIGHT.has(this.pipeline.getItem(id)?.stage)) return;
      this.cache.set(id, { head: r.head, files: r.files });
      this.changed();
    } catch (err) {
      // Unknown files only mean less is avoided; the diff route's reader sees the same trouble.
      this.log.debug({ story: id, err: (err as Error).message }, "touched files unavailable");
    }
  }
}
