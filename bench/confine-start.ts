import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Confinement } from "../src/confinement/confine.js";
import { gateEnv } from "../src/runtime/agent-env.js";
import type { RunResult } from "../src/runtime/agent-runtime.js";
import { createProject, git } from "../test/support/git-fixture.js";
import { percentiles, type BenchResult } from "./stats.js";

/**
 * What confinement costs a gate or a `command` coder: starts of `sh -c true` in a real story
 * worktree through the node's `Confinement`, confined (`auto`, the sandbox works) and unconfined
 * (`off`), interleaved in one run so the machine's drift hits both alike. Per start: `setupMs`,
 * the synchronous part (git view, policy, spawn: what sits on the claim → coder path), and
 * `totalMs`, from the call to the result (bwrap, the network bootstrap, the process, taking the
 * git view back). Target (issue 26): confined total ≤ unconfined total + 30 ms (medians).
 */
export async function confineStart(p: { starts: number }): Promise<BenchResult> {
  const project = createProject({});
  const wt = join(project.root, ".huskies", "worktrees", "1_story_bench");
  git(project.root, "worktree", "add", "-q", "-b", "feature/story-1_story_bench", wt, "origin/main");
  const confinement = await new Confinement({ root: project.root, log: pino({ level: "error" }) }).start();
  try {
    if (!confinement.probe.works)
      return {
        bench: "confine-start",
        params: p,
        results: { probe: confinement.probe },
        ok: false,
        failures: [`sandbox does not work: ${confinement.probe.reason}`],
      };
    const runOnce = async (mode: "auto" | "off", kind: "gate" | "coder") => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const run = confinement.run({
        label: kind,
        storyId: "1_story_bench",
        cwd: wt,
        projectRoot: project.root,
        mode,
        baseBranch: "main",
        ownBranch: kind === "coder" ? "feature/story-1_story_bench" : undefined,
        command: "/bin/sh",
        args: ["-c", "true"],
        env: gateEnv(),
        inactivityMs: 60_000,
        onLine: () => undefined,
        finish: (raw) =>
          ({
            ok: raw.exit === 0,
            outcome: raw.exit === 0 ? "done" : "story_failure",
            reason: "",
            exit: raw.exit,
            durationMs: raw.durationMs,
          }) as RunResult,
      });
      const setupMs = performance.now() - t0;
      const c1 = process.cpuUsage(c0);
      // CPU time of the setup in this process: what load on the machine does not inflate.
      const setupCpuMs = (c1.user + c1.system) / 1000;
      const r = await run.done;
      if (!r.ok) throw new Error(`${kind} ${mode} start failed: exit ${r.exit}`);
      return { setupMs, setupCpuMs, totalMs: performance.now() - t0 };
    };
    const samples: Record<string, { setupMs: number[]; setupCpuMs: number[]; totalMs: number[] }> = {};
    for (const k of ["gate-confined", "gate-unconfined", "coder-confined", "coder-unconfined"])
      samples[k] = { setupMs: [], setupCpuMs: [], totalMs: [] };
    // Warm-up (first spawns page in bwrap, sh, socat), then interleaved rounds.
    for (const kind of ["gate", "coder"] as const) for (const mode of ["auto", "off"] as const) await runOnce(mode, kind);
    for (let i = 0; i < p.starts; i++) {
      for (const kind of ["gate", "coder"] as const) {
        const order = i % 2 ? (["auto", "off"] as const) : (["off", "auto"] as const);
        for (const mode of order) {
          const s = await runOnce(mode, kind);
          const key = `${kind}-${mode === "auto" ? "confined" : "unconfined"}`;
          samples[key]!.setupMs.push(s.setupMs);
          samples[key]!.setupCpuMs.push(s.setupCpuMs);
          samples[key]!.totalMs.push(s.totalMs);
        }
      }
    }
    const stats = Object.fromEntries(
      Object.entries(samples).map(([k, v]) => [
        k,
        { setupMs: percentiles(v.setupMs), setupCpuMs: percentiles(v.setupCpuMs), totalMs: percentiles(v.totalMs) },
      ]),
    );
    const extra = (kind: string) =>
      Math.round((stats[`${kind}-confined`]!.totalMs.p50 - stats[`${kind}-unconfined`]!.totalMs.p50) * 10) / 10;
    // The 30 ms target is a figure (timings on a shared machine are not correctness): every start
    // exiting 0 is checked above, confined and not.
    const targetMet = { gate: extra("gate") <= 30, coder: extra("coder") <= 30 };
    const failures: string[] = [];
    return {
      bench: "confine-start",
      params: p,
      results: {
        probeMs: confinement.probe.ms,
        loadAverage: loadavg()[0],
        extraMedianMs: { gate: extra("gate"), coder: extra("coder") },
        targetMet,
        ...stats,
      },
      ok: failures.length === 0,
      failures,
    };
  } finally {
    await confinement.close();
    rmSync(wt, { recursive: true, force: true });
    project.cleanup();
  }
}
