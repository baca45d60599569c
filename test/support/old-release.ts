import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "./paths.js";

/**
 * The last commit of main before versions existed (wave 2's final state, huskies 0.1.0, no
 * `protocol` in the handshake, no `meta.schema`). Tests that check how this release meets an
 * older one run that commit's own build.
 */
export const OLD_RELEASE_COMMIT = "49cca8a19a93100011c51d8f39a68379dc8cb031";

/** Why the old release cannot be built here (a shallow clone without that commit), or undefined. */
export function oldReleaseUnavailable(): string | undefined {
  try {
    execFileSync("git", ["cat-file", "-e", `${OLD_RELEASE_COMMIT}^{commit}`], { cwd: PACKAGE_ROOT, stdio: "ignore" });
    return undefined;
  } catch {
    return `commit ${OLD_RELEASE_COMMIT.slice(0, 7)} is not in this clone's history (a shallow clone?): clone with full history to run it`;
  }
}

/**
 * The old release's CLI, built once per machine into the temp directory: its sources from git
 * (`git archive`, nothing in this checkout changes), this checkout's node_modules (the old
 * release's dependencies are the same packages), and its own TypeScript settings, server only.
 */
export function buildOldRelease(): string {
  const dir = join(tmpdir(), `huskies-release-${OLD_RELEASE_COMMIT.slice(0, 12)}`);
  const cli = join(dir, "dist", "src", "cli", "main.js");
  if (existsSync(cli)) return cli;
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const archive = execFileSync("git", ["archive", "--format=tar", OLD_RELEASE_COMMIT, "src", "package.json", "tsconfig.json"], {
    cwd: PACKAGE_ROOT,
    maxBuffer: 256 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", building], { input: archive });
  symlinkSync(join(PACKAGE_ROOT, "node_modules"), join(building, "node_modules"), "dir");
  writeFileSync(
    join(building, "tsconfig.build.json"),
    JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { sourceMap: false }, include: ["src/**/*.ts"] }),
  );
  execFileSync(process.execPath, [join(PACKAGE_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: building,
    stdio: "inherit",
  });
  // Another test run may have finished the same build meanwhile: either copy is good.
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true });
  }
  return cli;
}
