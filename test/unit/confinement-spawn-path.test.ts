import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../support/paths.js";

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/**
 * Files that may start processes, each for a reason none of which runs code a story controls.
 * Everything a story controls (coders of every runtime, QA, the mergemaster's agent, gates) starts
 * through `src/confinement/` (docs/architecture.md §12).
 */
const SPAWNERS: Record<string, string> = {
  "src/confinement/confine.ts": "the one entry point (and `git config` for the view's identity)",
  "src/confinement/probe.ts": "preflight: starts an empty sandbox once",
  "src/confinement/git-view.ts": "host git re-indexes packs a run left (verifying every object)",
  "src/runtime/supervised-process.ts": "the supervisor the confinement module starts runs with",
  "src/git/git.ts": "huskies' own git, on the host, with the repository's config (which no run can write)",
  "src/git/branch-diff.ts": "huskies' own `git diff` of a pushed branch on the rendezvous (reads objects only)",
  "src/demo/demo-project.ts": "`huskies demo` makes its throwaway repository with git",
  "src/demo/demo.ts": "`huskies demo` starts huskies' own server and agents",
};

/** Who may call the supervisor (it spawns whatever it is given). */
const SUPERVISED_CALLERS = new Set(["src/confinement/confine.ts", "src/runtime/supervised-process.ts"]);

describe("the confinement spawn path", () => {
  it("no file outside the confinement module starts a process, and only it calls the supervisor", () => {
    const offenders: string[] = [];
    for (const file of sources(join(PACKAGE_ROOT, "src"))) {
      const rel = relative(PACKAGE_ROOT, file);
      const text = readFileSync(file, "utf8");
      const spawns = /from\s+["'](node:)?child_process["']|require\(["'](node:)?child_process["']\)|\bexeca\b|\bBun\.spawn\b/.test(text);
      if (spawns && !(rel in SPAWNERS)) offenders.push(`${rel}: imports child_process`);
      if (/\bstartSupervised\s*\(/.test(text) && !SUPERVISED_CALLERS.has(rel)) offenders.push(`${rel}: calls startSupervised`);
    }
    expect(offenders).toEqual([]);
  });
});
