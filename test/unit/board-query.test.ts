import { describe, expect, it } from "vitest";
import { formatQuery, isFiltered, isOpenQuestion, matcher, parseQuery, type Queryable } from "../../src/pipeline/board-query.js";
import { compareVersions, nodesBehind, newestVersion } from "../../src/pipeline/release-order.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const item = (over: Partial<Queryable>): Queryable => ({
  id: "1_story_login_page",
  name: "Login page",
  body: "As a visitor I want to sign in with my Passkey.",
  type: "story",
  stage: "backlog",
  claim: null,
  blocked: null,
  ...over,
});

describe("the board's search and filters", () => {
  it("search matches every word, any case, in the id, the name or the body", () => {
    const m = (q: string) => matcher({ q })(item({}));
    expect(m("login")).toBe(true);
    expect(m("PASSKEY visitor")).toBe(true);
    expect(m("1_story_login")).toBe(true);
    expect(m("login billing")).toBe(false);
    expect(m("")).toBe(true);
  });

  it("filters by type, stage, holder, blocked, question and runtime", () => {
    const held = item({ claim: { node: A }, stage: "current", lastRun: { runtime: "command" } });
    const blocked = item({ id: "2_bug_x", type: "bug", blocked: "gates keep failing", hasQuestion: true });
    const all = [held, blocked];
    const ids = (q: Parameters<typeof matcher>[0]) => all.filter(matcher(q)).map((i) => i.id);
    expect(ids({ q: "", holder: A })).toEqual([held.id]);
    expect(ids({ q: "", holder: B })).toEqual([]);
    expect(ids({ q: "", type: "bug" })).toEqual([blocked.id]);
    expect(ids({ q: "", stage: "current" })).toEqual([held.id]);
    expect(ids({ q: "", blocked: true })).toEqual([blocked.id]);
    expect(ids({ q: "", blocked: false })).toEqual([held.id]);
    expect(ids({ q: "", question: true })).toEqual([blocked.id]);
    expect(ids({ q: "", runtime: "command" })).toEqual([held.id]);
    expect(ids({ q: "", runtime: "claude-code" })).toEqual([]);
  });

  it("round-trips through the URL, keeps other parameters, and ignores values it does not know", () => {
    const q = {
      q: "login page",
      type: "bug" as const,
      stage: "done" as const,
      holder: A,
      blocked: false,
      question: true,
      runtime: "command",
      archived: true,
    };
    const search = formatQuery(q, "?token=secret&story=1_story_x&q=old");
    const p = new URLSearchParams(search);
    expect(p.get("token")).toBe("secret");
    expect(p.get("story")).toBe("1_story_x");
    expect(parseQuery(search)).toEqual(q);
    expect(parseQuery("?type=epic&stage=nowhere&blocked=maybe&question=0")).toEqual({ q: "" });
    expect(formatQuery({ q: "" }, "?q=x&type=bug")).toBe("");
    expect(isFiltered({ q: " " })).toBe(false);
    expect(isFiltered({ q: "", archived: true })).toBe(false);
    expect(isFiltered({ q: "", holder: A })).toBe(true);
  });

  it("an open question is a non-empty string or a coder's question without an answer", () => {
    expect([undefined, null, "", "  ", [], false, {}, { text: " " }].map(isOpenQuestion)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect([" Which colour? ", { text: "Which colour?" }].map(isOpenQuestion)).toEqual([true, true]);
    expect(isOpenQuestion({ text: "Which colour?", askedAt: 1, answer: "blue" })).toBe(false);
  });
});

describe("nodes behind the fleet's newest release", () => {
  it("orders versions by semver, pre-releases before their release", () => {
    const sorted = ["1.0.0", "0.9.10", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-alpha", "0.10.0", "1.0.1"].sort(compareVersions);
    expect(sorted).toEqual(["0.9.10", "0.10.0", "1.0.0-alpha", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0", "1.0.1"]);
    expect(compareVersions("1.2.3+build.5", "1.2.3")).toBe(0);
  });

  it("marks only nodes with a valid version older than the newest; nodes without one are ignored", () => {
    const nodes = [
      { id: "old", version: "0.1.0" },
      { id: "new", version: "0.2.0" },
      { id: "none" },
      { id: "junk", version: "latest" },
      { id: "same", version: "0.2.0" },
    ];
    expect(newestVersion(nodes)).toBe("0.2.0");
    expect([...nodesBehind(nodes)]).toEqual([["old", { version: "0.1.0", newest: "0.2.0" }]]);
    expect(nodesBehind([{ id: "x" }, { id: "y", version: "?" }]).size).toBe(0);
  });
});
