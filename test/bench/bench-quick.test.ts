import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../support/paths.js";

describe("npm run bench -- --quick", () => {
  it(
    "runs every benchmark in its small configuration, each checking its own correctness",
    async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, "dist", "bench", "run.js"), "--quick"], {
        timeout: 8 * 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      const lines = stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { bench: string; ok: boolean; failures: string[]; results: Record<string, unknown> });
      expect(lines.map((l) => l.bench)).toEqual(["claim-latency", "drain", "convergence", "scale", "confine-start", "board", "footprint"]);
      for (const l of lines) expect(l.failures, l.bench).toEqual([]);
      const latency = lines[0]!.results as { duplicates: number; coderStartMs: { n: number } };
      expect(latency).toMatchObject({ duplicates: 0, coderStartMs: { n: 20 } });
      const drain = lines[1]!.results as { runs: Array<{ duplicates: number; losses: number }> };
      expect(drain.runs.every((r) => r.duplicates === 0 && r.losses === 0)).toBe(true);
      // Every simulated agent's grants were seen, at every fleet and document size (failures cover duplicates).
      const scale = lines[3]!.results as { runs: Array<{ points: Array<{ grants: number; heartbeats: number }> }> };
      expect(scale.runs.flatMap((r) => r.points).every((p) => p.grants === 20 && p.heartbeats > 0)).toBe(true);
      // The board at 2 000 stories: windowed (its figures are timings, read in the README, not here).
      // Confined and unconfined starts all ran (each must exit 0); the cost is a figure for the README.
      expect(lines[4]!.results).toMatchObject({ extraMedianMs: { gate: expect.any(Number), coder: expect.any(Number) } });
      const board = lines[5]!.results as { maxCardsInDom: number; openMs: { n: number }; filedMs: { n: number } };
      expect(board.maxCardsInDom).toBeLessThanOrEqual(500);
      expect(board).toMatchObject({ openMs: { n: 3 }, filedMs: { n: 2 } });
    },
    9 * 60_000,
  );
});
