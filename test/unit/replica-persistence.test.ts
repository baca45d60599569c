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
    await waitFor(() => a.store.pendingCount() < COMPACT_AFTER_UPDATES, "compaction");
    a.pipeline.update(ids[0]!, { name: "after compaction" });
    a.close();
    const b = new Replica(new SqliteStore(file));
    expect(b.pipeline.listItems()).toHaveLength(ids.length);
    expect(b.pipeline.getItem(ids[0]!)?.name).toBe("after compaction");
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
