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

/** The only files allowed to write an item's stage, claim, epoch or requests. */
const WRITERS = new Set([
  "src/state/claims.ts",
  "src/state/pipeline-doc.ts",
  // The signing half of the same write path: it re-writes a signed group whole inside the write
  // Claims makes, and signs the claims of a replica from before signed writes (once).
  "src/trust/item-authority.ts",
]);

describe("the claim write path", () => {
  it("no file outside the claims module writes claim, epoch, stage or requests", () => {
    const offenders: string[] = [];
    for (const file of sources(join(PACKAGE_ROOT, "src"))) {
      const rel = relative(PACKAGE_ROOT, file);
      if (WRITERS.has(rel)) continue;
      const text = readFileSync(file, "utf8");
      const patterns = [/WRITE_CLAIM_FIELDS/, /\.set\(\s*["'](stage|stageAt|claim|epoch|requests)["']/, /\bsetRequest\(/];
      for (const re of patterns) if (re.test(text)) offenders.push(`${rel}: ${re}`);
    }
    expect(offenders).toEqual([]);
  });
});
