import { describe, expect, it } from "vitest";
import { runChaos as chaos } from "../support/chaos-cli.js";

describe("npm run chaos (issue 25)", () => {
  it("seed 1, three steps over real processes: faults injected, stories filed and finished, every invariant holds, exit 0", async () => {
    const { code, report, stderr } = await chaos(["--seed", "1", "--steps", "3"]);
    expect(report, stderr).toMatchObject({ ok: true, seed: 1, stepsRun: 3, replay: "npm run chaos -- --seed 1 --steps 3" });
    expect(code).toBe(0);
    expect(Object.values(report.faultsInjected as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(3);
    expect(report.storiesAcknowledged).toBeGreaterThan(3);
    // Each step is checked, and the drained end once more.
    expect(report.invariantChecks).toBe(4);
    expect(report.storiesDone as number).toBeGreaterThan(0);
  }, 900_000);

  it("bad arguments are refused with a reason", async () => {
    const { code, stderr } = await chaos(["--seed", "x"]);
    expect(code).toBe(2);
    expect(stderr).toContain('--seed needs a whole number, got "x"');
  }, 60_000);
});
