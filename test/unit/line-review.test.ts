import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { formatReview, readReview, REVIEW_LIMITS, reviewReason, type Review } from "../../src/pipeline/review.js";
import { buildPrompt, reviewContinuePrompt } from "../../src/runtime/prompt.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { Claims } from "../../src/state/claims.js";
import { ActionError, OperatorActions } from "../../src/server/operator-actions.js";
import { Replicas, silent } from "../support/in-process.js";

const review: Review = {
  at: 1,
  summary: "Close, but not yet.",
  comments: [
    { file: "src/b.ts", line: 40, text: "Handle the empty list." },
    { file: "src/a.ts", line: 12, text: "Name this for what it holds." },
    { file: "src/b.ts", line: 3, text: "Unused import.", old: true },
  ],
};

describe("a review by the line", () => {
  it("is listed for the coder by file, each file's comments by line, with the overall comment first", () => {
    const text = formatReview(review);
    expect(text.indexOf("Close, but not yet.")).toBe(0);
    expect(text.indexOf("### src/b.ts")).toBeLessThan(text.indexOf("### src/a.ts"));
    expect(text).toContain("- src/b.ts:3 (a removed line, numbered as in the base branch): Unused import.");
    expect(text.indexOf("src/b.ts:3")).toBeLessThan(text.indexOf("src/b.ts:40"));
    expect(text).toContain("- src/a.ts:12: Name this for what it holds.");
    expect(reviewReason(review)).toBe("review: 3 line comments on 2 files. Close, but not yet.");
  });

  it("reaches a fresh prompt in its own section, and a resumed session as the whole message", () => {
    const vars = { story_id: "1_story_x", worktree_path: "/w", base_branch: "main", story_markdown: "# X" };
    const fresh = buildPrompt("coder", undefined, vars, undefined, review);
    expect(fresh).toContain("## A reviewer sent your work back");
    expect(fresh).toContain("- src/a.ts:12: Name this for what it holds.");
    expect(fresh).not.toContain("The previous attempt failed");
    // A gate failure after the review keeps both.
    expect(buildPrompt("coder", undefined, vars, "gates failed", review)).toContain("The previous attempt failed");
    const resumed = reviewContinuePrompt(review);
    expect(resumed).toContain("sent the story back");
    expect(resumed).toContain("- src/b.ts:40: Handle the empty list.");
  });

  it("read from the document: hostile values are dropped, limits hold, an empty review is none", () => {
    expect(readReview(review)).toEqual(review);
    for (const bad of [
      null,
      "x",
      [],
      { at: "1", comments: [] },
      { at: 1 },
      { at: 1, comments: [] },
      { at: NaN, comments: review.comments },
    ])
      expect(readReview(bad)).toBeUndefined();
    const hostile = readReview({
      at: 5,
      comments: [
        { file: "../etc/passwd", line: 1, text: "x" },
        { file: "/abs", line: 1, text: "x" },
        { file: "a\u0000b", line: 1, text: "x" },
        { file: "ok.ts", line: 0, text: "x" },
        { file: "ok.ts", line: 1.5, text: "x" },
        { file: "ok.ts", line: 2, text: "   " },
        { file: "ok.ts", line: 3, text: "y".repeat(REVIEW_LIMITS.text + 10), old: "yes" },
      ],
    });
    expect(hostile?.comments).toEqual([{ file: "ok.ts", line: 3, text: "y".repeat(REVIEW_LIMITS.text) }]);
    const many = readReview({ at: 1, comments: Array.from({ length: 500 }, (_, i) => ({ file: "f", line: i + 1, text: "t" })) });
    expect(many?.comments).toHaveLength(REVIEW_LIMITS.comments);
  });

  it("a malformed review on an item is skipped and counted; the item still reads", () => {
    const p = new PipelineDoc(new Y.Doc(), { log: silent });
    const item = p.createItem({ name: "Reviewed", stage: "current" });
    p.transact(() => (p.items.get(item.id) as Y.Map<unknown>).set("review", { at: 1, comments: "all of them" }));
    expect(p.getItem(item.id)?.name).toBe("Reviewed");
    expect(p.getItem(item.id)?.review).toBeUndefined();
    expect(p.malformedCount).toBeGreaterThan(0);
  });
});

describe("operator actions: review, approve, reject", () => {
  const setup = () => {
    const p = new Replicas(1).docs[0]!;
    const actions = new OperatorActions(new Claims(p), { root: "/nonexistent", baseBranch: async () => "main" });
    return { p, actions };
  };

  it("a review sends the story back from qa with its comments on the item and its reason as the failure", async () => {
    const { p, actions } = setup();
    const s = p.createItem({ name: "Greet", stage: "qa" });
    const after = actions.review(s.id, { summary: "Nearly.", comments: review.comments }, 42);
    expect(after.stage).toBe("current");
    expect(after.review).toEqual({ at: 42, summary: "Nearly.", comments: review.comments });
    expect(after.failure).toEqual({ kind: "rework", message: "review: 3 line comments on 2 files. Nearly." });
    // A later plain send-back (after the work came back to qa) replaces it: the coder hears only the latest.
    new Claims(p).move(s.id, "qa", { actor: "operator" });
    expect((await actions.move(s.id, "current", "Just rename it.")).review).toBeUndefined();
    expect(() => actions.review(s.id, { summary: "again" })).toThrow(/only a story in qa, merge, done can be sent back with a review/);
  });

  it("refuses reviews out of shape with a 400 naming the field, and from stages that cannot be sent back with a 409", () => {
    const { p, actions } = setup();
    const s = p.createItem({ name: "Greet", stage: "qa" });
    const status = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return [(err as ActionError).status, (err as Error).message];
      }
      return undefined;
    };
    expect(status(() => actions.review(s.id, {}))?.[0]).toBe(400);
    expect(status(() => actions.review(s.id, { comments: [{ file: "../x", line: 1, text: "t" }] }))).toEqual([
      400,
      "comments.0.file: file must be a relative path in the repository",
    ]);
    expect(status(() => actions.review(s.id, { comments: [{ file: "x", line: 0, text: "t" }] }))?.[0]).toBe(400);
    expect(status(() => actions.review(s.id, { comments: [{ file: "x", line: 1, text: "t", extra: 1 }] }))?.[0]).toBe(400);
    const many = Array.from({ length: REVIEW_LIMITS.comments + 1 }, (_, i) => ({ file: "x", line: i + 1, text: "t" }));
    expect(status(() => actions.review(s.id, { comments: many }))?.[0]).toBe(400);
    const fresh = p.createItem({ name: "Fresh", stage: "backlog" });
    expect(status(() => actions.review(fresh.id, { summary: "no" }))?.[0]).toBe(409);
    expect(p.getItem(s.id)?.stage).toBe("qa");
  });

  it("reject needs a story in qa and a reason or comments; approve needs a story in qa", async () => {
    const { p, actions } = setup();
    const s = p.createItem({ name: "Greet", stage: "qa" });
    expect(() => actions.reject(s.id, {})).toThrow(/a review needs a comment/);
    const rejected = actions.reject(s.id, { reason: "Wrong colour.", comments: [{ file: "a.css", line: 2, text: "Blue, please." }] });
    expect(rejected.stage).toBe("current");
    expect(rejected.review?.summary).toBe("Wrong colour.");
    expect(() => actions.reject(s.id, { reason: "again" })).toThrow(/only a story in qa can be rejected/);
    await expect(actions.approve(s.id)).rejects.toThrow(/only a story in qa can be approved; .* is in current/);
  });
});
