import { describe, expect, it } from "vitest";
import { conflictVerdict, reservedFor } from "../../src/pipeline/conflict-rounds.js";
import { nextMerges, type Queued } from "../../src/pipeline/merge-order.js";
import { mergeQueue, queueStep, queueView, type QueueItem } from "../../src/pipeline/merge-queue.js";
import { globRegExp, specsOverlap, touchProblem } from "../../src/pipeline/touches.js";

/** The pure rules of issue 29: footprints, conflict rounds, the merge queue and its order. */

describe("touches: footprints and where they meet", () => {
  it("globs: ** spans segments, * and ? stay inside one", () => {
    expect(globRegExp("src/api/**").test("src/api/routes.ts")).toBe(true);
    expect(globRegExp("src/api/**").test("src/api/v1/routes.ts")).toBe(true);
    expect(globRegExp("src/**/x.ts").test("src/x.ts")).toBe(true);
    expect(globRegExp("src/*.ts").test("src/a/b.ts")).toBe(false);
    expect(globRegExp("a?.md").test("ab.md")).toBe(true);
    expect(globRegExp("a.md").test("aXmd")).toBe(false);
  });

  it("declared globs are checked: relative, no . or .., no control characters, not empty", () => {
    expect(touchProblem("src/api/**")).toBeUndefined();
    expect(touchProblem("")).toMatch(/empty/);
    expect(touchProblem("/etc/**")).toMatch(/relative/);
    expect(touchProblem("src/../x")).toMatch(/\.\./);
    expect(touchProblem("a\u0007b")).toMatch(/control/);
    expect(touchProblem("a\\b")).toMatch(/\//);
    expect(touchProblem("x".repeat(201))).toMatch(/200/);
  });

  it("overlap: shared paths, a glob over a path, two globs by their literal prefixes; disjoint ones do not meet", () => {
    expect(specsOverlap({ paths: ["a.txt", "b.txt"], globs: [] }, { paths: ["b.txt"], globs: [] })).toBe("b.txt");
    expect(specsOverlap({ paths: [], globs: ["src/api/**"] }, { paths: ["src/api/routes.ts"], globs: [] })).toBe("src/api/routes.ts");
    expect(specsOverlap({ paths: ["src/api/routes.ts"], globs: [] }, { paths: [], globs: ["src/**"] })).toBe("src/api/routes.ts");
    expect(specsOverlap({ paths: [], globs: ["src/api/**"] }, { paths: [], globs: ["src/**"] })).toBe("src/api/**");
    expect(specsOverlap({ paths: [], globs: ["docs/**"] }, { paths: ["src/api/x.ts"], globs: ["src/**"] })).toBeUndefined();
    expect(specsOverlap({ paths: ["a.txt"], globs: [] }, { paths: ["b.txt"], globs: [] })).toBeUndefined();
  });
});

describe("conflict rounds", () => {
  it("counts rounds up to max_conflict_rounds, then blocks; 0 never sends a conflict back", () => {
    expect(conflictVerdict(0, 3)).toEqual({ round: 1 });
    expect(conflictVerdict(2, 3)).toEqual({ round: 3 });
    expect(conflictVerdict(3, 3)).toEqual({ blocked: expect.stringMatching(/after 3 conflict rounds \(max_conflict_rounds = 3\)/) });
    expect(conflictVerdict(0, 0)).toEqual({ blocked: expect.stringMatching(/max_conflict_rounds = 0/) });
  });

  it("a round waits for the node that wrote the code while it is alive, unpaused, has a coder slot, within the affinity", () => {
    const now = 1_000_000;
    const t = { nodeAliveMs: 60_000, affinityMs: 900_000 };
    const author = { id: "n1", alive: true, lastSeen: now - 1000, capacity: { coder: 1, qa: 0, mergemaster: 0 } };
    const round = { stage: "current", stageAt: now - 5000, conflict: { round: 1 }, coderSession: { node: "n1" } };
    const nodes = (n: typeof author | undefined) => (id: string) => (n && id === n.id ? n : undefined);
    expect(reservedFor(round, nodes(author), now, t)).toBe("n1");
    expect(reservedFor({ ...round, stageAt: now - 900_000 }, nodes(author), now, t)).toBeUndefined();
    expect(reservedFor(round, nodes({ ...author, lastSeen: now - 120_000 }), now, t)).toBeUndefined();
    expect(reservedFor(round, nodes({ ...author, paused: { reason: "x" } } as typeof author), now, t)).toBeUndefined();
    expect(reservedFor(round, nodes({ ...author, capacity: { coder: 0, qa: 0, mergemaster: 1 } }), now, t)).toBeUndefined();
    expect(reservedFor(round, nodes(undefined), now, t)).toBeUndefined();
    expect(reservedFor({ ...round, conflict: undefined }, nodes(author), now, t)).toBeUndefined();
  });
});

describe("the merge queue", () => {
  const item = (id: string, over: Partial<QueueItem> = {}): QueueItem => ({
    id,
    stage: "merge",
    blocked: null,
    stageAt: 100,
    claim: null,
    ...over,
  });

  it("orders by first entry into merge (kept across a round), then story number; blocked and other stages are out", () => {
    const q = mergeQueue([
      item("3_story_c", { stageAt: 50 }),
      item("2_story_b", { stage: "current", conflict: { round: 1 }, stageAt: 300, queuedAt: 10 }),
      item("1_story_a", { stageAt: 50 }),
      item("4_story_d", { blocked: "x" }),
      item("5_story_e", { stage: "current" }),
      item("6_story_f", { stage: "qa" }),
    ]);
    expect(q.map((i) => i.id)).toEqual(["2_story_b", "1_story_a", "3_story_c"]);
  });

  it("says each entry's step as a person reads it", () => {
    expect(queueStep(item("1_s", { claim: { node: "m" }, mergeStep: "gates" }))).toBe("gates");
    expect(queueStep(item("1_s", { claim: { node: "m" }, mergeStep: "rebasing" }))).toBe("rebasing (git alone, with rerere)");
    expect(queueStep(item("1_s", { claim: { node: "m" } }))).toBe("starting");
    expect(queueStep(item("1_s", { stage: "current", conflict: { round: 2 } }))).toBe("conflict round 2 (waiting for its coder)");
    expect(queueStep(item("1_s", { stage: "current", conflict: { round: 2 }, claim: { node: "c" } }))).toBe("conflict round 2");
    expect(queueStep(item("1_s", { overlaps: { story: "2_s", path: "a.txt" } }))).toBe("waiting: overlaps 2_s on a.txt");
    expect(queueView([item("1_s", { claim: { node: "m" }, mergeStep: "pushing" }), item("2_s")])).toEqual([
      { id: "1_s", position: 1, step: "pushing", holder: "m" },
      { id: "2_s", position: 2, step: "waiting" },
    ]);
  });

  it("grants one merge at a time from the head; holds a story overlapping a round ahead of it; lets others past", () => {
    const spec = (...paths: string[]) => ({ paths, globs: [] });
    const q = (id: string, over: Partial<Queued> = {}): Queued => ({
      id,
      onRound: false,
      merging: false,
      spec: spec(`${id}.txt`),
      ...over,
    });
    expect(nextMerges([q("a"), q("b")], 1)).toEqual({ grant: ["a"], held: [] });
    expect(nextMerges([q("a"), q("b"), q("c")], 2)).toEqual({ grant: ["a", "b"], held: [] });
    expect(nextMerges([q("a", { merging: true }), q("b")], 1)).toEqual({ grant: [], held: [] });
    const round = q("r", { onRound: true, spec: spec("shared.txt") });
    expect(nextMerges([round, q("b", { spec: spec("shared.txt") }), q("c")], 1)).toEqual({
      grant: ["c"],
      held: [{ id: "b", story: "r", path: "shared.txt" }],
    });
    // Files not known yet: it waits only while a round is open ahead.
    expect(nextMerges([round, q("d", { spec: undefined })], 1)).toEqual({ grant: [], held: [] });
    expect(nextMerges([q("d", { spec: undefined })], 1)).toEqual({ grant: ["d"], held: [] });
  });
});
