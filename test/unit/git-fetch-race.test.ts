import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { git as run } from "../../src/git/git.js";
import { createProject, git, type Project } from "../support/git-fixture.js";

let project: Project | undefined;
let shim = "";
const savedPath = process.env.PATH;

/**
 * A `git` first on PATH whose first `fails` fetches fail as the loser of a ref-lock race does (the
 * words of git 2.39); everything else is the real git.
 */
beforeAll(() => {
  const real = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  shim = mkdtempSync(join(tmpdir(), "huskies-git-shim-"));
  writeFileSync(
    join(shim, "git"),
    `#!/bin/sh
if [ "$1" = fetch ]; then
  c=$(cat ${shim}/count); echo $((c + 1)) > ${shim}/count
  if [ "$c" -lt "$(cat ${shim}/fails)" ]; then
    echo "error: cannot lock ref 'refs/remotes/origin/main': Unable to create '.git/refs/remotes/origin/main.lock': File exists." >&2
    exit 1
  fi
fi
exec ${real} "$@"
`,
  );
  chmodSync(join(shim, "git"), 0o755);
});
afterAll(() => rmSync(shim, { recursive: true, force: true }));
afterEach(() => {
  process.env.PATH = savedPath;
  project?.cleanup();
});

function racing(fails: number): void {
  writeFileSync(join(shim, "fails"), String(fails));
  writeFileSync(join(shim, "count"), "0");
  process.env.PATH = `${shim}:${savedPath}`;
}
const fetches = () => readFileSync(join(shim, "count"), "utf8").trim();

describe("a fetch that loses the race for a ref's lock", () => {
  it("is tried again and succeeds once the other fetch let go", async () => {
    project = createProject();
    const a = project.clone("a");
    const b = project.clone("b");
    writeFileSync(join(b, "new.txt"), "x\n");
    git(b, "add", "-A");
    git(b, "commit", "-qm", "new");
    git(b, "push", "-q", "origin", "main");
    racing(2);
    expect((await run(a, ["fetch", "--quiet", "origin"])).exitCode).toBe(0);
    expect(fetches()).toBe("3");
    expect(git(a, "rev-parse", "origin/main")).toBe(git(b, "rev-parse", "HEAD"));
  });

  it("gives up after three tries with git's own words, and never retries another failure", async () => {
    project = createProject();
    const a = project.clone("a");
    racing(5);
    await expect(run(a, ["fetch", "--quiet", "origin"])).rejects.toThrow(/cannot lock ref/);
    expect(fetches()).toBe("3");
    racing(0);
    await expect(run(a, ["fetch", "--quiet", "nowhere"])).rejects.toThrow(/nowhere/);
    expect(fetches()).toBe("1");
  });
});
