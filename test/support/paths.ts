import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The package root, found upwards (this file runs from test/support and, compiled, from dist/test/support). */
function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = packageRoot(import.meta.dirname);
export const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
