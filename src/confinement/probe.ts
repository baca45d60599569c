import { spawn, spawnSync } from "node:child_process";
import { bwrapArgs } from "./bwrap.js";
import { findExecutable } from "../runtime/sandbox.js";
import { buildPolicy, NO_SANDBOX_SETTINGS } from "./policy.js";

/** Whether a sandbox really starts on this node, and what one start cost. */
export interface SandboxProbe {
  works: boolean;
  reason?: string;
  ms?: number;
}

/** An empty sandbox with the policy's mounts and namespaces, running `exit 0`. */
function probeArgs(): string[] {
  const policy = buildPolicy({ cwd: "/", settings: NO_SANDBOX_SETTINGS });
  policy.writable = [];
  policy.pinned = [];
  return bwrapArgs(policy, "/bin/sh", ["-c", "exit 0"]);
}

/** The same probe, blocking: for a confinement used outside a node (once per process). */
export function probeSandboxSync(path = process.env.PATH ?? ""): SandboxProbe {
  const missing = [bwrapPath(), "socat"].filter((t) => !findExecutable(t, path));
  if (missing.length) return { works: false, reason: `${missing.join(" and ")} not found on PATH (install bubblewrap and socat)` };
  const started = performance.now();
  const r = spawnSync(bwrapPath(), probeArgs(), { stdio: ["ignore", "ignore", "pipe"], timeout: PROBE_TIMEOUT_MS });
  if (r.status === 0) return { works: true, ms: Math.round((performance.now() - started) * 10) / 10 };
  return {
    works: false,
    reason: `bwrap failed (${r.signal ?? `exit ${r.status}`}): ${
      String(r.stderr ?? "")
        .trim()
        .split("\n")[0] ?? ""
    }`.trim(),
  };
}

/** The bubblewrap binary: `HUSKIES_BWRAP` (a path) or `bwrap` on PATH. */
export function bwrapPath(): string {
  return process.env.HUSKIES_BWRAP || "bwrap";
}

/** A sandbox that has not exited this long after starting `true` is not working. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Preflight: start one sandbox with the policy's own mounts and namespaces (finding `bwrap` on
 * PATH is not enough: a kernel without unprivileged user namespaces, or a container that forbids
 * mounts, fails only when it starts). socat must be there too: it carries the network in.
 */
export async function probeSandbox(path = process.env.PATH ?? ""): Promise<SandboxProbe> {
  const missing = [bwrapPath(), "socat"].filter((t) => !findExecutable(t, path));
  if (missing.length) return { works: false, reason: `${missing.join(" and ")} not found on PATH (install bubblewrap and socat)` };
  const args = probeArgs();
  const started = performance.now();
  return new Promise((resolve) => {
    let err = "";
    const child = spawn(bwrapPath(), args, { stdio: ["ignore", "ignore", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.once("error", (e) => {
      clearTimeout(timer);
      resolve({ works: false, reason: `bwrap did not start: ${e.message}` });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const ms = Math.round((performance.now() - started) * 10) / 10;
      if (code === 0) resolve({ works: true, ms });
      else resolve({ works: false, reason: `bwrap failed (${signal ?? `exit ${code}`}): ${err.trim().split("\n")[0] ?? ""}`.trim() });
    });
  });
}
