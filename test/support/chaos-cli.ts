import { spawn } from "node:child_process";
import { join } from "node:path";
import { PACKAGE_ROOT } from "./paths.js";

export interface ChaosRun {
  code: number | null;
  report: Record<string, unknown> & { violations?: { invariant: string; detail: string }[]; logs?: string };
  stderr: string;
  secs: number;
}

/**
 * `npm run chaos` as a user runs it (dist/bench/chaos/main.js), to completion: its JSON line, exit
 * code and stderr. `revert` sets `HUSKIES_REVERT_FIXES` (unset otherwise, whatever this process has).
 */
export function runChaos(args: string[], revert?: string): Promise<ChaosRun> {
  const began = performance.now();
  const env = { ...process.env };
  delete env.HUSKIES_REVERT_FIXES;
  if (revert) env.HUSKIES_REVERT_FIXES = revert;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, "dist", "bench", "chaos", "main.js"), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => {
      const line = out.trim().split("\n").pop() || "{}";
      resolve({ code, report: JSON.parse(line) as ChaosRun["report"], stderr: err, secs: Math.round((performance.now() - began) / 1000) });
    });
  });
}
