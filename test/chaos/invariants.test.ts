import { describe, expect, it } from "vitest";
import { checkAll, type Observation } from "../../bench/chaos/invariants.js";

/** A clean run's observation: two stories, each worked once and merged once. */
function clean(): Observation {
  return {
    acknowledged: ["1_story_a", "2_story_b"],
    stories: [
      { id: "1_story_a", stage: "done", blocked: null },
      { id: "2_story_b", stage: "current", blocked: "gates failed", failure: { kind: "gates", message: "exit 1" } },
    ],
    jobs: [
      { story: "1_story_a", role: "coder", holder: "agent-1#2", node: "agent-1", start: 1_000, end: 9_000 },
      { story: "1_story_a", role: "mergemaster", holder: "agent-2#3", node: "agent-2", start: 9_500, end: 12_000 },
      { story: "2_story_b", role: "coder", holder: "agent-3#4", node: "agent-3", start: 2_000, end: 3_000 },
    ],
    excused: [],
    mergedTrailers: ["1_story_a"],
    unexpectedExits: [],
    starts: [
      { story: "1_story_a", role: "coder", node: "agent-1", at: 1_000 },
      { story: "1_story_a", role: "mergemaster", node: "agent-2", at: 9_500 },
    ],
    logBytesPerMinute: [{ node: "agent-1#2", minute: 0, bytes: 20_000 }],
    final: true,
  };
}

const kinds = (o: Observation) => checkAll(o, 60_000).map((v) => v.invariant);

describe("the chaos run's invariants catch each planted violation (issue 25)", () => {
  it("a clean observation passes", () => {
    expect(checkAll(clean(), 60_000)).toEqual([]);
  });

  it("a story merged twice (two Huskies-Story trailers on origin's main)", () => {
    const o = { ...clean(), mergedTrailers: ["1_story_a", "1_story_a"] };
    expect(checkAll(o, 60_000)).toEqual([{ invariant: "merged-once", detail: expect.stringContaining("1_story_a was merged 2 times") }]);
  });

  it("an acknowledged create missing from the document", () => {
    expect(kinds({ ...clean(), acknowledged: [...clean().acknowledged, "3_story_c"] })).toEqual(["acknowledged-create-kept"]);
  });

  it("two holders in one stage at once, unless one of them could not act (frozen or killed, plus the grace)", () => {
    const twice = {
      ...clean(),
      jobs: [...clean().jobs, { story: "1_story_a", role: "coder", holder: "agent-2#5", node: "agent-2", start: 4_000, end: 8_000 }],
    };
    expect(kinds(twice)).toEqual(["one-holder-per-stage"]);
    expect(kinds({ ...twice, excused: [{ node: "agent-1", from: 3_000, to: 9_000 }] })).toEqual([]);
    // The same process instance restarting its own job is no second holder; a still-open span counts up to now.
    const open = {
      ...clean(),
      jobs: [...clean().jobs, { story: "2_story_b", role: "coder", holder: "agent-1#6", node: "agent-1", start: 2_500, end: undefined }],
    };
    expect(kinds(open)).toEqual([]);
    const openLate = {
      ...open,
      jobs: [...open.jobs, { story: "2_story_b", role: "coder", holder: "agent-2#7", node: "agent-2", start: 10_000, end: undefined }],
    };
    expect(kinds(openLate)).toEqual(["one-holder-per-stage"]);
  });

  it("a story left neither done nor blocked with a failure kind at the end (only checked once the run has drained)", () => {
    const stuck = { ...clean(), stories: [...clean().stories!, { id: "3_story_c", stage: "merge", blocked: null }] };
    expect(kinds(stuck)).toEqual(["settled"]);
    expect(kinds({ ...stuck, final: false })).toEqual([]);
    const noKind = { ...clean(), stories: [{ id: "1_story_a", stage: "qa", blocked: "x", failure: "old string" }, clean().stories![1]!] };
    expect(kinds(noKind)).toEqual(["settled"]);
  });

  it("a process that exited without the schedule ending it", () => {
    expect(kinds({ ...clean(), unexpectedExits: [{ node: "agent-2", code: 1, signal: null }] })).toEqual(["no-unexpected-exit"]);
  });

  it("a node that starts one story twice within 5 s, or logs more than 1 MB in a minute", () => {
    const spin = { ...clean(), starts: [...clean().starts, { story: "1_story_a", role: "coder", node: "agent-1", at: 3_000 }] };
    expect(kinds(spin)).toEqual(["bounded-starts"]);
    // The breaker's restart 5 s on, its log line received a few ms early, is no spin.
    const starts = clean().starts;
    const first = starts.find((s) => s.story === "1_story_a" && s.node === "agent-1")!;
    const breaker = { ...clean(), starts: [...starts, { ...first, at: first.at + 4_970 }] };
    expect(kinds(breaker)).toEqual([]);
    // Handed at once to another node (a node's failure) is failover, not a spin.
    const handoff = { ...clean(), starts: [...clean().starts, { story: "1_story_a", role: "coder", node: "agent-3", at: 1_400 }] };
    expect(kinds(handoff)).toEqual([]);
    expect(kinds({ ...clean(), logBytesPerMinute: [{ node: "agent-1#2", minute: 3, bytes: 2 * 1024 * 1024 }] })).toEqual(["bounded-log"]);
  });
});
