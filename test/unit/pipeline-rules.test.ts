import { describe, expect, it } from "vitest";
import { parseStage } from "../../src/pipeline/stages.js";
import { assertItemId, featureBranch, isItemId, makeItemId, slugify } from "../../src/pipeline/item-id.js";
import { checkTransition } from "../../src/pipeline/transitions.js";
import { parseCriteria, renderStory, setCriterion } from "../../src/pipeline/story-markdown.js";

describe("stages", () => {
  it("accepts current and legacy spellings, rejects others", () => {
    expect(parseStage("current")).toBe("current");
    expect(parseStage("2_current")).toBe("current");
    expect(parseStage("6_archived")).toBe("archived");
    expect(parseStage("QA")).toBe("qa");
    expect(parseStage("7_gone")).toBeUndefined();
    expect(parseStage("")).toBeUndefined();
  });
});

describe("item ids", () => {
  it("makes huskies-style ids from names", () => {
    expect(makeItemId(1, "story", "Add login")).toBe("1_story_add_login");
    expect(makeItemId(42, "bug", "Crash on  save!")).toBe("42_bug_crash_on_save");
  });

  it("strips everything dangerous from slugs", () => {
    const slug = slugify(`"; rm -rf / #\n../../etc/passwd $(whoami) \`id\``);
    expect(slug).toMatch(/^[a-z0-9_]*$/);
    expect(slug).not.toContain("..");
    expect(isItemId(makeItemId(3, "spike", "../..\n'\""))).toBe(true);
  });

  it("caps slugs at 60 characters", () => {
    expect(slugify("x".repeat(500))).toHaveLength(60);
  });

  it("refuses malformed ids before they reach a path or branch", () => {
    expect(() => assertItemId("1_story_../x")).toThrow();
    expect(() => featureBranch("1_epic_x")).toThrow();
    expect(featureBranch("7_story_ok")).toBe("feature/story-7_story_ok");
  });
});

describe("transitions", () => {
  it("lets coders submit and refuses QA or merge slots moving work into current without a reason", () => {
    expect(checkTransition("current", "qa", { actor: "coder" })).toEqual({ ok: true, name: "submit" });
    expect(checkTransition("qa", "current", { actor: "qa" }).ok).toBe(false);
    expect(checkTransition("merge", "current", { actor: "mergemaster" }).ok).toBe(false);
    expect(checkTransition("merge", "current", { actor: "mergemaster", reason: "conflict" })).toEqual({ ok: true, name: "rework" });
    expect(checkTransition("backlog", "current", { actor: "qa" }).ok).toBe(false);
    expect(checkTransition("backlog", "current", { actor: "mergemaster" }).ok).toBe(false);
  });

  it("requires a commit ahead to enter merge", () => {
    expect(checkTransition("qa", "merge", { actor: "operator", commitsAhead: 0 })).toMatchObject({
      ok: false,
      error: expect.stringContaining("commit ahead"),
    });
    expect(checkTransition("qa", "merge", { actor: "operator", commitsAhead: 2 }).ok).toBe(true);
  });

  it("requires a merge commit to enter done", () => {
    expect(checkTransition("merge", "done", { actor: "mergemaster" }).ok).toBe(false);
    expect(checkTransition("merge", "done", { actor: "mergemaster", mergeCommit: "zzz" }).ok).toBe(false);
    expect(checkTransition("merge", "done", { actor: "mergemaster", mergeCommit: "0123abcd" }).ok).toBe(true);
  });

  it("refuses moves that skip the pipeline", () => {
    expect(checkTransition("backlog", "done", { actor: "operator", mergeCommit: "0123abcd" })).toMatchObject({ ok: false });
    expect(checkTransition("current", "current", { actor: "operator" })).toMatchObject({ ok: false, error: "already in current" });
  });
});

describe("story markdown", () => {
  const md = renderStory({
    name: "Add login",
    body: "As a user I want to log in.",
    criteria: ["form has email", "wrong password\nshows error"],
  });

  it("renders criteria as unticked boxes, one line each", () => {
    expect(parseCriteria(md)).toEqual([
      { text: "form has email", done: false },
      { text: "wrong password shows error", done: false },
    ]);
  });

  it("ticks one criterion by index and refuses a missing one", () => {
    const ticked = setCriterion(md, 1, true);
    expect(parseCriteria(ticked).map((c) => c.done)).toEqual([false, true]);
    expect(() => setCriterion(md, 2, true)).toThrow(/no criterion 3/);
  });
});
