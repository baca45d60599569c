import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runInBackground } from "../../src/git/git.js";

/** A process' niceness, from /proc (field 19 of stat, after the parenthesised name). */
function niceness(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

describe("background git runs at a lower CPU priority", () => {
  it("lowers the process and what it forks afterwards; a process already gone is no error", async () => {
    const child = spawn("sh", ["-c", "sleep 0.3; sleep 5 & echo $!; wait"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      expect(niceness(child.pid!)).toBe(niceness(process.pid));
      runInBackground(child.pid);
      expect(niceness(child.pid!)).toBe(10);
      const grandchild = await new Promise<number>((resolve) =>
        child.stdout.once("data", (d: Buffer) => resolve(Number(String(d).trim()))),
      );
      expect(niceness(grandchild)).toBe(10);
      process.kill(grandchild);
    } finally {
      child.kill();
    }
    expect(() => runInBackground(2 ** 22 + 12345)).not.toThrow();
  });
});
