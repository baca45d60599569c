import * as Y from "yjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ReplicaStore } from "../../src/state/replica-store.js";

/** What a store implementation provides to the suite. */
export interface ReplicaStoreSetup {
  name: string;
  /** Open the store (again): a second `open` after `close` sees what the first persisted. */
  open(): ReplicaStore;
  /** Make writes fail the way a lock held elsewhere does; the returned function lifts it. */
  lock(): () => void;
  /**
   * Append updates from another process until killed with SIGKILL after at least `minAcked`
   * appends returned; resolves to the number of appends that returned (acknowledged). Omit for
   * stores that do not outlive their process.
   */
  crash?(minAcked: number): Promise<number>;
  teardown(): void;
}

/** One update that sets `counter = n` (each builds on the previous one's document). */
export function counterUpdates(count: number): Uint8Array[] {
  const doc = new Y.Doc();
  const out: Uint8Array[] = [];
  doc.on("update", (u: Uint8Array) => out.push(u));
  for (let i = 1; i <= count; i++) doc.getMap("m").set("counter", i);
  return out;
}

function replay(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, u);
  return doc;
}

/**
 * The replica store contract (see `ReplicaStore`): append order, crash safety, compaction,
 * failure behaviour. Runs in-process; the crash case forks one short-lived process.
 */
export function runReplicaStoreTests(makeSetup: () => ReplicaStoreSetup, opts: { crashable: boolean }): void {
  describe("replica store conformance", () => {
    let setup: ReplicaStoreSetup;
    const open: ReplicaStore[] = [];
    const fresh = () => {
      const s = setup.open();
      open.push(s);
      return s;
    };
    beforeEach(() => {
      setup = makeSetup();
    });
    afterEach(() => {
      for (const s of open.splice(0)) s.close();
      setup.teardown();
    });

    it("loads updates in the order they were appended, across a reopen", () => {
      const updates = counterUpdates(50);
      const a = fresh();
      for (const u of updates) a.append(u);
      a.close();
      const loaded = fresh().load();
      expect(loaded.map((u) => Buffer.from(u).toString("hex"))).toEqual(updates.map((u) => Buffer.from(u).toString("hex")));
      expect(replay(loaded).getMap("m").get("counter")).toBe(50);
    });

    it("compaction replaces the log by a snapshot without losing anything", () => {
      const updates = counterUpdates(30);
      const a = fresh();
      const doc = new Y.Doc();
      for (const u of updates.slice(0, 20)) {
        a.append(u);
        Y.applyUpdate(doc, u);
      }
      const bytes = (us: Uint8Array[]) => us.reduce((n, u) => n + u.byteLength, 0);
      expect(a.logSize()).toEqual({ rows: 20, logBytes: bytes(updates.slice(0, 20)), snapshotBytes: 0 });
      const snapshot = Y.encodeStateAsUpdate(doc);
      a.compact(snapshot);
      expect(a.logSize()).toEqual({ rows: 0, logBytes: 0, snapshotBytes: snapshot.byteLength });
      for (const u of updates.slice(20)) a.append(u);
      const after = { rows: 10, logBytes: bytes(updates.slice(20)), snapshotBytes: snapshot.byteLength };
      expect(a.logSize()).toEqual(after);
      a.close();
      const b = fresh();
      // A reopened store knows what it holds (the compaction policy reads it).
      expect(b.logSize()).toEqual(after);
      const loaded = b.load();
      expect(loaded).toHaveLength(11);
      expect(replay(loaded).getMap("m").get("counter")).toBe(30);
    });

    it("a failed append stores nothing and throws; the store works again once the cause is gone", () => {
      const updates = counterUpdates(3);
      const a = fresh();
      a.append(updates[0]!);
      const release = setup.lock();
      let threw: unknown;
      try {
        a.append(updates[1]!);
      } catch (err) {
        threw = err;
      }
      release();
      expect(threw).toBeInstanceOf(Error);
      expect(a.logSize().rows).toBe(1);
      a.append(updates[1]!);
      a.append(updates[2]!);
      a.close();
      const loaded = fresh().load();
      expect(loaded).toHaveLength(3);
      expect(replay(loaded).getMap("m").get("counter")).toBe(3);
    });

    // Only stores that outlive their process can be crashed and reopened (not registered for the others).
    if (opts.crashable)
      it("an append that returned survives SIGKILL of its process", async () => {
        if (!setup.crash) throw new Error(`${setup.name} was declared crashable but has no crash()`);
        const acked = await setup.crash(40);
        expect(acked).toBeGreaterThanOrEqual(40);
        const loaded = fresh().load();
        expect(loaded.length).toBeGreaterThanOrEqual(acked);
        // Every acknowledged update is there, in order: the counter reached at least the last acked value.
        expect(Number(replay(loaded).getMap("m").get("counter"))).toBeGreaterThanOrEqual(acked);
      });
  });
}
