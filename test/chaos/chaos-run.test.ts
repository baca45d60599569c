import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../support/paths.js";

/** `npm run chaos` as a user runs it (dist/bench/chaos/main.js), to completion; its JSON line and exit code. */
function chaos(args: string[]): Promise<{ code: number | null; report: Record<string, unknown>; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, "dist", "bench", "chaos", "main.js"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => {
      const line = out.trim().split("\n").pop() || "{}";
      resolve({ code, report: JSON.parse(line) as Record<string, unknown>, stderr: err });
    });
  });
}

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
