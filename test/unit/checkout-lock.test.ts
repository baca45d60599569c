import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lockVerdict, parseLockHolder, type ProcessState } from "../../src/pipeline/checkout-lock-rule.js";
import { acquireCheckoutLock, processState } from "../../src/node/checkout-lock.js";

const self = { pid: 100, host: "box" };
const running = (ticks?: string) => (): ProcessState => ({ running: true, startTicks: ticks });
const gone = (): ProcessState => ({ running: false });

describe("lockVerdict (one process per checkout)", () => {
  it("refuses while the holder runs, and names it", () => {
    const text = JSON.stringify({ pid: 42, host: "box", startTicks: "777", command: "huskies agent", since: 1 });
    expect(lockVerdict(text, self, running("777"))).toEqual({
      take: false,
      holder: { pid: 42, host: "box", startTicks: "777", command: "huskies agent", since: 1 },
    });
    // Without start times to compare, a running pid is taken at its word.
    expect(lockVerdict(JSON.stringify({ pid: 42 }), self, running()).take).toBe(false);
  });

  it("takes over a lock whose process is gone, whose pid was reused, or that came from another machine", () => {
    expect(lockVerdict(JSON.stringify({ pid: 42, host: "box" }), self, gone)).toEqual({ take: true, stale: "process 42 is gone" });
    expect(lockVerdict(JSON.stringify({ pid: 42, host: "box", startTicks: "1" }), self, running("2"))).toMatchObject({
      take: true,
      stale: expect.stringMatching(/belongs to another process/),
    });
    expect(lockVerdict(JSON.stringify({ pid: 42, host: "laptop" }), self, running("1"))).toMatchObject({
      take: true,
      stale: expect.stringMatching(/another machine/),
    });
    expect(lockVerdict("{not json", self, running())).toEqual({ take: true, stale: "the lock file is unreadable" });
    expect(parseLockHolder(JSON.stringify({ pid: -3 }))).toBeUndefined();
  });

  it("our own pid: this very process holds it (refuse), or an earlier process had the pid (take)", () => {
    expect(lockVerdict(JSON.stringify({ pid: 100, startTicks: "5" }), self, running("5")).take).toBe(false);
    expect(lockVerdict(JSON.stringify({ pid: 100, startTicks: "4" }), self, running("5")).take).toBe(true);
  });
});

describe("acquireCheckoutLock", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const lockFile = () => {
    const d = mkdtempSync(join(tmpdir(), "huskies-lock-"));
    dirs.push(d);
    return join(d, "node.lock");
  };

  it("holds the pid, refuses a second holder with one line naming the first, and releases", () => {
    const file = lockFile();
    const lock = acquireCheckoutLock(file, "huskies agent");
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ pid: process.pid, host: hostname(), command: "huskies agent" });
    expect(() => acquireCheckoutLock(file, "huskies agent")).toThrow(
      new RegExp(
        `^another huskies process is using this checkout: pid ${process.pid} \\(\`huskies agent\`, since .*\\) holds .*node\\.lock; stop it, or run this one in another checkout$`,
      ),
    );
    lock.release();
    expect(existsSync(file)).toBe(false);
    acquireCheckoutLock(file, "huskies serve").release();
  });

  it("takes over the lock of a process that died", async () => {
    const file = lockFile();
    const child = spawn(process.execPath, ["-e", ""]);
    const pid = child.pid!;
    await new Promise((r) => child.once("exit", r));
    expect(processState(pid).running).toBe(false);
    writeFileSync(file, JSON.stringify({ pid, host: hostname(), command: "huskies agent" }));
    const lock = acquireCheckoutLock(file, "huskies agent");
    expect(lock.tookOver).toBe(`process ${pid} is gone`);
    expect(JSON.parse(readFileSync(file, "utf8")).pid).toBe(process.pid);
    lock.release();
  });
});
