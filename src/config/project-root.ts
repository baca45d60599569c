import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The nearest directory at or above `dir` holding `.huskies/`, like git finds `.git`. */
export function findProjectRoot(dir: string): string | undefined {
  let cur = resolve(dir);
  for (;;) {
    const marker = join(cur, ".huskies");
    if (existsSync(marker) && statSync(marker).isDirectory()) return cur;
    const up = dirname(cur);
    if (up === cur) return undefined;
    cur = up;
  }
}

export function huskiesDir(root: string, ...parts: string[]): string {
  return join(root, ".huskies", ...parts);
}
