import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryDisk, MemoryStore } from "../../src/state/memory-store.js";
import { Replica } from "../../src/state/replica.js";
import { StoreUnavailable } from "../../src/state/replica-store.js";
import { openSqliteStore } from "../../src/state/sqlite-store.js";
import { createSyncPolicy } from "../../src/trust/auth-policy.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { memoryPair } from "../../src/sync/memory-transport.js";
import { SyncConnection } from "../../src/sync/sync-connection.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { waitFor } from "../support/wait-for.js";

const replicas: Replica[] = [];
const dirs: string[] = [];
afterEach(() => {
  replicas.splice(0).forEach((r) => r.close());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function replica(disk: MemoryDisk, opts: ConstructorParameters<typeof Replica>[1] = {}): Replica {
  const r = new Replica(new MemoryStore(disk), { retryInitialMs: 5, retryMaxMs: 20, ...opts });
  replicas.push(r);
  return r;
}

function names(r: Replica): string[] {
  return r.pipeline.listItems().map((i) => i.name);
}

/** A peer document linked to the replica's hub over an in-memory pair. */
function peerOf(r: Replica): { doc: Y.Doc; link: SyncConnection } {
  const log = pino({ level: "silent" });
  const hub = new SyncHub(r.doc, log, r);
  const serverId = ephemeralIdentity();
  const policy = createSyncPolicy({ role: "rendezvous", identity: serverId, open: true, doc: r.doc, trustedKeys: () => [] });
  const peerDoc = new Y.Doc();
  const peerHub = new SyncHub(peerDoc, log);
  const [acc, con] = memoryPair();
  const link = new SyncConnection(con, peerHub, { kind: "connect", identity: ephemeralIdentity() }, { maxFrameBytes: 1 << 20 });
  new SyncConnection(acc, hub, { kind: "accept", gate: policy.gate(null), identity: serverId }, { maxFrameBytes: 1 << 20 });
  return { doc: peerDoc, link };
}

/** Everything the peer sent before now has been handled by the replica's side, and its answers are back. */
function roundTrip(link: SyncConnection): Promise<void> {
  return new Promise((resolve) => {
    link.ws.on("pong", () => resolve());
    link.ws.ping();
  });
}

describe("a replica whose store fails", () => {
  it("never throws into Yjs, refuses to acknowledge, holds updates back from peers, and drains them in order on recovery", async () => {
    const disk = new MemoryDisk();
    const r = replica(disk);
    const { doc: peer, link } = peerOf(r);
    r.pipeline.createItem({ name: "before" });
    await waitFor(() => peer.getMap("items").size === 1, "the first item at the peer");

    const events: string[] = [];
    r.on("unwritable", () => events.push("unwritable"));
    r.on("writable", () => events.push("writable"));
    disk.failWrites = "SQLITE_BUSY";
    expect(() => r.pipeline.createItem({ name: "during one" })).not.toThrow();
    r.pipeline.createItem({ name: "during two" });
    expect(r.writable).toBe(false);
    expect(r.unpersisted).toBeGreaterThanOrEqual(2);
    expect(r.lastError?.code).toBe("SQLITE_BUSY");
    expect(() => r.assertWritable()).toThrow(StoreUnavailable);
    // Nothing unpersisted reaches the peer, not even through a step-2 answer.
    const { doc: late, link: lateLink } = peerOf(r);
    await waitFor(() => lateLink.ready, "the late peer's handshake");
    await roundTrip(lateLink);
    await roundTrip(link);
    expect(peer.getMap("items").size).toBe(1);
    expect(late.getMap("items").size).toBe(0);

    disk.failWrites = undefined;
    await waitFor(() => r.writable, "the queue to drain");
    expect(events).toEqual(["unwritable", "writable"]);
    await waitFor(() => peer.getMap("items").size === 3 && late.getMap("items").size === 3, "both peers to get everything once persisted");
    // The "disk" holds everything, in order: a restart sees all three.
    const again = replica(disk);
    expect(names(again)).toEqual(["before", "during one", "during two"]);
  });

  it("emits fatal once when the store does not recover within the bound", async () => {
    const disk = new MemoryDisk();
    let now = 0;
    const r = replica(disk, { fatalAfterMs: 1000, now: () => now });
    const fatal: string[] = [];
    r.on("fatal", (err) => fatal.push(err.code ?? ""));
    disk.failWrites = "SQLITE_IOERR";
    r.pipeline.createItem({ name: "stuck" });
    now = 2000;
    await waitFor(() => fatal.length === 1, "fatal");
    now = 5000;
    const seen = disk.attempts;
    await waitFor(() => disk.attempts >= seen + 3, "more failed retries");
    expect(fatal).toEqual(["SQLITE_IOERR"]);
  });
});

describe("opening a damaged replica file", () => {
  function dir(): string {
    const d = mkdtempSync(join(tmpdir(), "huskies-damaged-"));
    dirs.push(d);
    return d;
  }

  it("moves a corrupt file aside, starts empty, and marks the replica suspect with a warning naming the file", () => {
    const d = dir();
    const file = join(d, "replica.db");
    writeFileSync(file, "this is not a database, it is a poem about databases".repeat(100));
    const warnings: Array<Record<string, unknown>> = [];
    const store = openSqliteStore(file, { now: () => 42, warn: (_m, f) => warnings.push(f) });
    const r = new Replica(store);
    replicas.push(r);
    expect(r.suspect).toMatch(/unreadable/);
    expect(readdirSync(d)).toContain("replica.db.corrupt-42");
    expect(warnings[0]).toMatchObject({ file });
    r.pipeline.createItem({ name: "fresh start" });
    expect(names(r)).toEqual(["fresh start"]);
  });

  it("reports a 0-byte file, and trusts a file that did not exist yet", () => {
    const d = dir();
    writeFileSync(join(d, "replica.db"), "");
    const empty = new Replica(openSqliteStore(join(d, "replica.db")));
    replicas.push(empty);
    expect(empty.suspect).toMatch(/0 bytes/);
    const fresh = new Replica(openSqliteStore(join(d, "new.db")));
    replicas.push(fresh);
    expect(fresh.suspect).toBeUndefined();
  });

  it("skips a damaged row instead of refusing to start", () => {
    const disk = new MemoryDisk();
    const a = replica(disk);
    a.pipeline.createItem({ name: "kept" });
    disk.updates.push(new Uint8Array([9, 9, 9, 9]));
    const b = replica(disk);
    expect(names(b)).toEqual(["kept"]);
    expect(b.suspect).toMatch(/damaged/);
  });
});
