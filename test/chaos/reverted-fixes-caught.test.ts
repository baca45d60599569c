import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatSchedule, parseSchedule } from "../../bench/chaos/schedule.js";
import { checkWrites } from "../../bench/chaos/write-invariants.js";
import { runChaos as chaos, type ChaosRun as Run } from "../support/chaos-cli.js";

/** One step per fix, each the fault that fix is for (README "Chaos run and simulation"). */
const HUNG_PEER = "freeze:rendezvous:40";
const EMPTY_REPLICA = "empty-replica:rendezvous:8";
const ID_COUNTER = "poison-counter:rendezvous:8";

const named = (r: Run) => (r.report.violations ?? []).map((v) => v.invariant);

/** The failing run's report names the step and the replay command, and keeps the nodes' logs. */
function expectCaught(r: Run, revert: string, step: string, invariant: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.report.ok).toBe(false);
  expect(named(r), JSON.stringify(r.report.violations)).toContain(invariant);
  expect(r.report.replay).toBe(`HUSKIES_REVERT_FIXES=${revert} npm run chaos -- --schedule "${step}"`);
  expect(r.stderr).toContain(`replay with: HUSKIES_REVERT_FIXES=${revert}`);
}

// The run with every fix on goes last, on its own: two clusters at once beside the rest of the
// suite is the kind of load under which a CI runner once took over a minute to start a node.
const controlRun = () => chaos(["--schedule", [HUNG_PEER, EMPTY_REPLICA, ID_COUNTER].join(",")]);

describe("the chaos run catches each fix of issue 24 when HUSKIES_REVERT_FIXES turns it off (issue 25)", () => {
  it("id-counter reverted: meta.lastNumber poisoned to 2^53 gives a bad id, then the rendezvous loops for ever -> exit 1, item-ids and rendezvous-answers", async () => {
    const r = await chaos(["--schedule", ID_COUNTER], "id-counter");
    expectCaught(r, "id-counter", ID_COUNTER, "item-ids");
    expect(r.report.violations).toEqual(
      expect.arrayContaining([
        { invariant: "item-ids", detail: expect.stringContaining('"9007199254740992_story_chaos_story" is not an item id'), step: 1 },
        { invariant: "rendezvous-answers", detail: expect.stringContaining("answered no read"), step: 1 },
      ]),
    );
    console.log(JSON.stringify({ revert: "id-counter", secs: r.secs, violations: named(r) }));
    if (r.report.logs) rmSync(r.report.logs, { recursive: true, force: true });
  }, 240_000);

  it("hung-peer reverted: the rendezvous frozen 40 s crashes every agent dialling it ('WebSocket is not open: readyState 0') -> exit 1, no-unexpected-exit", async () => {
    const r = await chaos(["--schedule", HUNG_PEER], "hung-peer");
    expectCaught(r, "hung-peer", HUNG_PEER, "no-unexpected-exit");
    const crashed = (r.report.violations ?? []).filter((v) => v.invariant === "no-unexpected-exit").map((v) => v.detail.split(" ")[0]!);
    expect(crashed.length).toBeGreaterThan(0);
    // The exit is the bug's own crash, not another one.
    for (const agent of crashed)
      expect(readFileSync(join(r.report.logs!, `${agent}.log`), "utf8")).toContain("WebSocket is not open: readyState 0");
    console.log(JSON.stringify({ revert: "hung-peer", secs: r.secs, violations: named(r) }));
    rmSync(r.report.logs!, { recursive: true, force: true });
  }, 240_000);

  it("empty-replica reverted: the rendezvous restarted on a deleted replica while the agents are away numbers from 1 again and an acknowledged story is overwritten -> exit 1, acknowledged-create-kept", async () => {
    const r = await chaos(["--schedule", EMPTY_REPLICA], "empty-replica");
    expectCaught(r, "empty-replica", EMPTY_REPLICA, "acknowledged-create-kept");
    expect(r.report.violations).toEqual(
      expect.arrayContaining([
        {
          invariant: "acknowledged-create-kept",
          detail: expect.stringContaining("1_story_chaos_story was acknowledged for 2 creates"),
          step: 1,
        },
      ]),
    );
    console.log(JSON.stringify({ revert: "empty-replica", secs: r.secs, violations: named(r) }));
    if (r.report.logs) rmSync(r.report.logs, { recursive: true, force: true });
  }, 240_000);

  it("the same three steps with every fix on: every fault injected, every invariant holds, exit 0", async () => {
    const r = await controlRun();
    expect(r.report, r.stderr).toMatchObject({
      ok: true,
      stepsRun: 3,
      faultsInjected: { freeze: 1, "empty-replica": 1, "poison-counter": 1 },
      invariantChecks: 4,
    });
    expect(r.code).toBe(0);
    expect(r.report.storiesDone as number).toBeGreaterThan(0);
    console.log(JSON.stringify({ revert: null, secs: r.secs, report: r.report }));
  }, 240_000);

  it("a bad --schedule is refused with the reason", async () => {
    const r = await chaos(["--schedule", "meltdown:rendezvous"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--schedule: unknown fault "meltdown"');
  }, 60_000);
});

describe("the fixed schedule that names those faults", () => {
  it("parses kind:target:holdSecs (target implied where the kind has one) and prints the same text for the replay", () => {
    const steps = parseSchedule(`${HUNG_PEER}, empty-replica ,poison-counter::8,clock:agent-1:20:-60`);
    expect(steps.map((s) => [s.n, s.kind, s.target, s.gapMs, s.holdMs, s.offsetMs])).toEqual([
      [1, "freeze", "rendezvous", 5_000, 40_000, undefined],
      [2, "empty-replica", "rendezvous", 5_000, 10_000, undefined],
      [3, "poison-counter", "rendezvous", 5_000, 8_000, undefined],
      [4, "clock", "agent-1", 5_000, 20_000, -60_000],
    ]);
    expect(formatSchedule(steps)).toBe(`${HUNG_PEER},empty-replica:rendezvous:10,${ID_COUNTER},clock:agent-1:20:-60`);
    expect(() => parseSchedule("freeze")).toThrow("freeze needs a node");
    expect(() => parseSchedule("empty-replica:agent-1")).toThrow("needs the target rendezvous");
    expect(() => parseSchedule("clock:agent-1:5")).toThrow("clock needs an offset");
  });
});

describe("the checks the reverted fixes fail, on planted observations", () => {
  const clean = { acknowledged: ["1_story_a", "2_story_a"], stories: [{ id: "1_story_a" }, { id: "2_story_a" }], silentMs: 0 };

  it("a clean observation passes", () => {
    expect(checkWrites(clean)).toEqual([]);
  });

  it("one id acknowledged for two creates is an overwritten story (acknowledged-create-kept)", () => {
    expect(checkWrites({ ...clean, acknowledged: [...clean.acknowledged, "1_story_a"] })).toEqual([
      { invariant: "acknowledged-create-kept", detail: expect.stringContaining("1_story_a was acknowledged for 2 creates") },
    ]);
  });

  it("a number from 2^31 up, an id that is no id, one number on two stories (item-ids)", () => {
    const bad = ["9007199254740992_story_a", "1e+21_story_a"];
    expect(checkWrites({ ...clean, acknowledged: [...clean.acknowledged, ...bad] }).map((v) => v.detail)).toEqual(
      bad.map((id) => `${JSON.stringify(id)} is not an item id with a number below 2^31`),
    );
    expect(checkWrites({ ...clean, stories: [...clean.stories, { id: "2_story_b" }] })).toEqual([
      { invariant: "item-ids", detail: "number 2 is on 2 stories: 2_story_a, 2_story_b" },
    ]);
  });

  it("a rendezvous silent 20 s after a heal (rendezvous-answers); a shorter silence is a slow read", () => {
    expect(checkWrites({ ...clean, stories: undefined, silentMs: 20_000 }).map((v) => v.invariant)).toEqual(["rendezvous-answers"]);
    expect(checkWrites({ ...clean, stories: undefined, silentMs: 5_000 })).toEqual([]);
  });
});
