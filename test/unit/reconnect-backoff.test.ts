import { Writable } from "node:stream";
import pino from "pino";
import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { Backoff } from "../../src/sync/backoff.js";
import { SyncClient } from "../../src/sync/sync-client.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { waitFor } from "../support/wait-for.js";

describe("reconnect backoff", () => {
  it("doubles from 1 s, caps at 30 s, jitters within half the delay, and resets", () => {
    const low = new Backoff(1000, 30_000, () => 0);
    expect(Array.from({ length: 8 }, () => low.next())).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    const high = new Backoff(1000, 30_000, () => 1);
    expect(Array.from({ length: 7 }, () => high.next())).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    high.reset();
    expect(high.next()).toBe(1000);
  });

  it("logs each failed reconnect at warn, and at error after ten in a row", async () => {
    const lines: Array<{ level: number; failures: number }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const hub = new SyncHub(new Y.Doc(), pino({ level: "info" }, sink));
    // Nothing listens on port 9 (discard) on loopback: every attempt fails at once.
    const client = new SyncClient({
      url: "ws://127.0.0.1:9/crdt-sync",
      hub,
      identity: ephemeralIdentity(),
      maxFrameBytes: 1024,
      backoff: new Backoff(1, 5),
    }).start();
    try {
      await waitFor(() => lines.filter((l) => l.failures >= 12).length > 0, "a dozen failures");
    } finally {
      client.stop();
    }
    const failures = lines.filter((l) => typeof l.failures === "number");
    expect(failures.filter((l) => l.failures <= 10).every((l) => l.level === 40)).toBe(true);
    expect(failures.filter((l) => l.failures > 10).every((l) => l.level === 50)).toBe(true);
  });
});
