import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { Replica } from "../../src/state/replica.js";
import { Claims } from "../../src/state/claims.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { COMPACT_AFTER_UPDATES } from "../../src/config/defaults.js";
import { waitFor } from "../support/wait-for.js";

const dirs: string[] = [];
function dbFile(): string {
  const d = mkdtempSync(join(tmpdir(), "huskies-replica-"));
  dirs.push(d);
  return join(d, "replica.db");
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("SQLite replica", () => {
  it("replays writes in the order they were persisted (last write wins after restart)", () => {
    const file = dbFile();
    const a = new Replica(new SqliteStore(file));
    const item = a.pipeline.createItem({ name: "Order matters", stage: "backlog" });
    for (const name of ["one", "two", "three"]) a.pipeline.update(item.id, { name });
    a.close();
    const b = new Replica(new SqliteStore(file));
    expect(b.pipeline.getItem(item.id)?.name).toBe("three");
    b.close();
  });

  it("a deleted item stays deleted across restarts", () => {
    const file = dbFile();
    const a = new Replica(new SqliteStore(file));
    const keep = a.pipeline.createItem({ name: "Keep" });
    const gone = a.pipeline.createItem({ name: "Gone" });
    a.pipeline.deleteItem(gone.id);
    a.close();
    const b = new Replica(new SqliteStore(file));
    expect(b.pipeline.listItems().map((i) => i.id)).toEqual([keep.id]);
    b.close();
  });

  it("a deletion that arrives from a peer also survives a restart", () => {
    const file = dbFile();
    const a = new Replica(new SqliteStore(file));
    const item = a.pipeline.createItem({ name: "Shared" });
    const peer = new Y.Doc();
    Y.applyUpdate(peer, Y.encodeStateAsUpdate(a.doc));
    const sv = Y.encodeStateVector(peer);
    peer.getMap("items").delete(item.id);
    Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(peer, sv));
    a.close();
    const b = new Replica(new SqliteStore(file));
    expect(b.pipeline.getItem(item.id)).toBeUndefined();
    b.close();
  });

  it("compacts the log into a snapshot without losing anything", async () => {
    const file = dbFile();
    const a = new Replica(new SqliteStore(file));
    const ids = Array.from({ length: COMPACT_AFTER_UPDATES + 10 }, (_, i) => a.pipeline.createItem({ name: `s${i}` }).id);
    await waitFor(() => a.store.logSize().rows < COMPACT_AFTER_UPDATES, "compaction");
    a.pipeline.update(ids[0]!, { name: "after compaction" });
    a.close();
    const b = new Replica(new SqliteStore(file));
    expect(b.pipeline.listItems()).toHaveLength(ids.length);
    expect(b.pipeline.getItem(ids[0]!)?.name).toBe("after compaction");
    b.close();
  });

  it("waits to compact until the log is as big as the snapshot, so a big project is not re-encoded every 500 rows", async () => {
    const file = dbFile();
    const a = new Replica(new SqliteStore(file));
    const [first] = a.pipeline.createItems(
      Array.from({ length: 1000 }, (_, i) => ({ name: `Filler ${i}`, stage: "done" as const, body: "x".repeat(200) })),
    );
    a.store.compact(Y.encodeStateAsUpdate(a.doc));
    const snapshotBytes = a.store.logSize().snapshotBytes;
    expect(snapshotBytes).toBeGreaterThan(200_000);
    // Small writes well past the row count: a row is ~100 bytes, the snapshot hundreds of KB.
    for (let i = 0; i < COMPACT_AFTER_UPDATES + 100; i++) a.pipeline.update(first!.id, { name: `rename ${i}` });
    await new Promise((r) => setImmediate(r));
    expect(a.store.logSize()).toMatchObject({ rows: COMPACT_AFTER_UPDATES + 100, snapshotBytes });
    // Once the log holds as many bytes as the snapshot, it is folded in.
    const big = "y".repeat(4000);
    for (let i = 0; a.store.logSize().snapshotBytes === snapshotBytes && i < 1000; i++) {
      a.pipeline.update(first!.id, { body: `${big}${i}` });
      await new Promise((r) => setImmediate(r));
    }
    expect(a.store.logSize().rows).toBe(0);
    a.close();
    const b = new Replica(new SqliteStore(file));
    expect(b.pipeline.getItem(first!.id)?.name).toBe(`rename ${COMPACT_AFTER_UPDATES + 99}`);
    expect(b.pipeline.idsIn("done").size).toBe(1000);
    b.close();
  });

  it("numbers items uniquely and reports stage changes as events", () => {
    const r = new Replica(new SqliteStore(dbFile()));
    const events: string[] = [];
    r.pipeline.onStageChange((e) => events.push(`${e.id}:${e.from ?? "-"}>${e.to ?? "-"}`));
    const a = r.pipeline.createItem({ name: "A" });
    const b = r.pipeline.createItem({ name: "B", type: "bug", stage: "current" });
    expect([a.id, b.id]).toEqual(["1_story_a", "2_bug_b"]);
    new Claims(r.pipeline).move(a.id, "current", { actor: "operator" });
    r.pipeline.deleteItem(b.id);
    expect(events).toEqual(["1_story_a:->backlog", "2_bug_b:->current", "1_story_a:backlog>current", "2_bug_b:current>-"]);
    r.close();
  });
});
