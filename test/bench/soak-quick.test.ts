import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../support/paths.js";

interface SoakLine {
  bench: string;
  ok: boolean;
  failures: string[];
  results: {
    filed: number;
    finished: number;
    blocked: number;
    lost: number;
    duplicates: number;
    restarts: { agents: number; rendezvous: number };
    memory: { roles: Record<string, { rssMb: [number, number]; fds: [number, number] }> };
    timeline: unknown[];
  };
}

describe("npm run bench -- soak --quick", () => {
  it(
    "runs a rendezvous and four agents through restarts of both, keeping stories flowing, and reports memory, descriptors, losses and duplicates",
    async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, "dist", "bench", "run.js"), "soak", "--quick"], {
        timeout: 10 * 60_000,
        maxBuffer: 16 * 1024 * 1024,
      }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
      const lines = stdout.trim().split("\n");
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0]!) as SoakLine;
      expect(line.bench).toBe("soak");
      expect(line.failures).toEqual([]);
      const r = line.results;
      expect(r).toMatchObject({ lost: 0, duplicates: 0 });
      // A blocked story is a finding (its reason is in results.findings), not a loss.
      expect(r.finished + r.blocked).toBe(r.filed);
      expect(r.filed).toBeGreaterThan(8);
      expect(r.restarts.agents).toBeGreaterThan(0);
      expect(r.restarts.rendezvous).toBeGreaterThan(0);
      expect(Object.keys(r.memory.roles).sort()).toEqual(["agent1", "agent2", "agent3", "agent4", "rendezvous"]);
      for (const v of Object.values(r.memory.roles)) expect(Math.min(...v.rssMb, ...v.fds)).toBeGreaterThan(0);
      expect(r.timeline.length).toBeGreaterThan(5);
    },
    11 * 60_000,
  );
});
