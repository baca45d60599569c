import { reservedFor } from "../pipeline/conflict-rounds.js";
import { EMPTY_SPEC, specIsEmpty, specsOverlap, type FileSpec } from "../pipeline/touches.js";
import type { ClaimView } from "../state/claim-view.js";
import type { Item, Overlap } from "../state/item.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";

/** What the sequencer knows of the files of stories (see touched-files.ts). */
export type FilesOf = (id: string) => readonly string[] | undefined;

/** A story's footprint: the files its pushed branch changed and the globs it declared. */
export function specOf(item: Item, files: FilesOf): FileSpec {
  const paths = files(item.id);
  if (!paths?.length && !item.touches?.length) return EMPTY_SPEC;
  return { paths: paths ?? [], globs: item.touches ?? [] };
}

/**
 * One grant pass's view of what is in flight (issue 29.2): stories being coded (claimed in
 * `current`), back on a conflict round, in `qa` or in `merge`, with their footprints. Built lazily,
 * only when a story with a known footprint is about to be granted, so a pass over stories that
 * declare nothing (and have pushed nothing) costs a field read each.
 */
export class CollisionAvoidance {
  private flying: Array<{ id: string; spec: FileSpec }> | undefined;
  private readonly taken = new Set<string>();

  constructor(
    private readonly pipeline: PipelineDoc,
    private readonly view: ClaimView,
    private readonly files: FilesOf,
    private readonly affinity: { nodeAliveMs: number; affinityMs: number },
  ) {}

  /** Where `item` meets a story in flight, if it does. */
  overlapOf(item: Item): Overlap | undefined {
    const spec = specOf(item, this.files);
    if (specIsEmpty(spec)) return undefined;
    for (const f of this.inFlight()) {
      if (f.id === item.id) continue;
      const path = specsOverlap(spec, f.spec);
      if (path) return { story: f.id, path };
    }
    return undefined;
  }

  /**
   * The story to grant to `node` instead of `item`, which overlaps a story in flight: the
   * lowest-numbered story waiting in `current` that overlaps nothing in flight (and is not a
   * conflict round waiting for another node). Undefined when there is none: then `item` is
   * granted after all (nothing starves). `item`'s `overlaps` says why it waits, or is cleared.
   */
  instead(item: Item, node: string): Item | undefined {
    const overlap = this.overlapOf(item);
    let alternative: Item | undefined;
    if (overlap) {
      for (const y of this.pipeline.listItemsIn(["current"])) {
        if (y.id === item.id || y.blocked || this.taken.has(y.id) || this.view.live(y)) continue;
        const author = reservedFor(y, (id) => this.view.nodes.get(id), this.view.now, this.affinity);
        if (author && author !== node) continue;
        if (!this.overlapOf(y)) {
          alternative = y;
          break;
        }
      }
    }
    this.note(item, alternative ? overlap : undefined);
    return alternative;
  }

  /** `item` was granted in this pass: it is in flight now. */
  started(item: Item): void {
    this.taken.add(item.id);
    if (item.overlaps) this.note(item, undefined);
    const spec = specOf(item, this.files);
    if (this.flying && !specIsEmpty(spec)) this.flying.push({ id: item.id, spec });
  }

  /** Say why a story waits (or that it no longer does), writing only a change. */
  note(item: Item, overlap: Overlap | undefined): void {
    const now = this.pipeline.getItem(item.id)?.overlaps;
    if (now?.story === overlap?.story && now?.path === overlap?.path) return;
    this.pipeline.update(item.id, { overlaps: overlap });
  }

  private inFlight(): Array<{ id: string; spec: FileSpec }> {
    if (this.flying) return this.flying;
    this.flying = [];
    for (const i of this.pipeline.listItemsIn(["current", "qa", "merge"])) {
      if (i.blocked) continue;
      if (i.stage === "current" && !this.view.live(i) && !i.conflict) continue;
      const spec = specOf(i, this.files);
      if (!specIsEmpty(spec)) this.flying.push({ id: i.id, spec });
    }
    return this.flying;
  }
}
