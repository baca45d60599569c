import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { nodeIdOf, Replicas, silent } from "../support/in-process.js";

describe("validated reads", () => {
  it("poisoned items and nodes from another replica are skipped and counted, never thrown", () => {
    const r = new Replicas(2);
    const [p, other] = r.docs as [PipelineDoc, PipelineDoc];
    const good = p.createItem({ name: "Good", stage: "current" });
    other.transact(() => {
      other.items.set("9_story_poison", "boom");
      other.items.set("../../etc", new Y.Map());
      const badStage = new Y.Map<unknown>();
      badStage.set("stage", "nowhere");
      badStage.set("type", "story");
      other.items.set("10_story_bad_stage", badStage);
      other.nodes.set("zz", "boom");
      other.nodes.set(nodeIdOf("n"), "boom");
      const badClaim = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({ stage: "current", type: "story", name: "Bad claim", claim: { node: "x", epoch: "one" } }))
        badClaim.set(k, v);
      other.items.set("11_story_bad_claim", badClaim);
    });
    expect(p.listItems().map((i) => i.id)).toEqual([good.id, "11_story_bad_claim"]);
    expect(p.getItem("11_story_bad_claim")!.claim).toBeNull();
    expect(p.getItem("9_story_poison")).toBeUndefined();
    expect(p.listNodes()).toEqual([]);
    expect(p.listItemsIn(["current"]).map((i) => i.id)).toEqual([good.id, "11_story_bad_claim"]);
    expect(p.malformedCount).toBeGreaterThanOrEqual(5);
    // A poisoned document loads again without a word of trouble (no crash loop on restart).
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(p.doc));
    expect(new PipelineDoc(copy, { log: silent }).listItems()).toHaveLength(2);
  });

  it("a coder's question and progress line are read when well formed and dropped, not thrown, when not", () => {
    const p = new PipelineDoc();
    const a = p.createItem({ name: "Asks", stage: "current" });
    const node = nodeIdOf("n");
    const raw = (v: Record<string, unknown>) => p.transact(() => (p.items.get(a.id) as Y.Map<unknown>).set("question", v));
    raw({ text: "Which port?", askedAt: 5, node, slot: "claude-1", sessionId: "abc-123", answer: "8081", answeredAt: 6, extra: true });
    expect(p.getItem(a.id)!.question).toEqual({
      text: "Which port?",
      askedAt: 5,
      node,
      slot: "claude-1",
      sessionId: "abc-123",
      answer: "8081",
      answeredAt: 6,
    });
    // A session id that could be an option or a path, a node that is not a key: dropped fields.
    raw({ text: "Again?", askedAt: 7, node: "me", slot: 42, sessionId: "--dangerously-skip-permissions x" });
    expect(p.getItem(a.id)!.question).toEqual({ text: "Again?", askedAt: 7, node: "", slot: "" });
    for (const bad of [{ text: "", askedAt: 1 }, { text: "no time" }, { text: 3, askedAt: 1 }]) {
      raw(bad);
      expect(p.getItem(a.id)!.question).toBeUndefined();
    }
    raw({ text: "x".repeat(10_000), askedAt: 1, answer: "y".repeat(10_000) });
    expect(p.getItem(a.id)!.question!.text).toHaveLength(4000);
    expect(p.getItem(a.id)!.question!.answer).toHaveLength(4000);
    p.transact(() => (p.items.get(a.id) as Y.Map<unknown>).set("progress", "not an object"));
    expect(p.getItem(a.id)!.progress).toBeUndefined();
    p.update(a.id, { progress: { text: "halfway", at: 9 } });
    expect(p.getItem(a.id)!.progress).toEqual({ text: "halfway", at: 9 });
  });

  it("indexes follow stage changes and requests from any replica", () => {
    const r = new Replicas(2);
    const [p, q] = r.docs as [PipelineDoc, PipelineDoc];
    const a = p.createItem({ name: "A" });
    const b = p.createItem({ name: "B", stage: "current" });
    expect([...q.idsIn("backlog")]).toEqual([a.id]);
    // Read once so the stage's order is cached; the move must show through it.
    expect(p.listItemsIn(["current"]).map((i) => i.id)).toEqual([b.id]);
    const c = p.createItem({ name: "C", stage: "qa" });
    r.claims[1]!.move(a.id, "current", { actor: "operator" });
    expect(p.listItemsIn(["current"]).map((i) => i.id)).toEqual([a.id, b.id]);
    expect(p.listItemsIn(["qa", "current", "backlog"]).map((i) => i.id)).toEqual([a.id, b.id, c.id]);
    r.claims[1]!.request(b.id, nodeIdOf("q"), 5);
    expect(p.listRequested().map((i) => i.id)).toEqual([b.id]);
    r.claims[0]!.grant(b.id, nodeIdOf("q"));
    expect(q.listRequested()).toEqual([]);
    q.deleteItem(a.id);
    expect([...p.idsIn("current")]).toEqual([b.id]);
    expect(p.listItemsIn(["current"]).map((i) => i.id)).toEqual([b.id]);
  });

  it("with signatures on, a planted or replayed node entry changes nothing", () => {
    const real = nodeIdOf("real");
    const sigs = {
      sign: (id: string, f: Record<string, unknown>) => `signed:${id}:${JSON.stringify(f.lastSeen)}:${JSON.stringify(f.label)}`,
      verify: (id: string, f: Record<string, unknown>, sig: unknown) =>
        sig === `signed:${id}:${JSON.stringify(f.lastSeen)}:${JSON.stringify(f.label)}`,
    };
    const owner = new PipelineDoc(new Y.Doc(), { signatures: sigs, log: silent });
    const reader = new PipelineDoc(new Y.Doc(), { signatures: sigs, log: silent });
    owner.doc.on("update", (u: Uint8Array) => Y.applyUpdate(reader.doc, u));
    owner.setOwnNode(real, {
      label: "real",
      lastSeen: 100,
      alive: true,
      role: "agent",
      address: "",
      capacity: { coder: 1, qa: 0, mergemaster: 0 },
    });
    const old = (owner.nodes.get(real) as Y.Map<unknown>).toJSON();
    owner.setOwnNode(real, { lastSeen: 200 });
    expect(reader.getNode(real)).toMatchObject({ label: "real", lastSeen: 200 });
    // Someone else overwrites the entry (no valid signature): ignored.
    (reader.nodes.get(real) as Y.Map<unknown>).set("label", "evil");
    expect(reader.getNode(real)!.label).toBe("real");
    // A planted entry for a key that never signed: not a node.
    const planted = new Y.Map<unknown>();
    planted.set("label", "planted");
    reader.nodes.set(nodeIdOf("planted"), planted);
    expect(reader.getNode(nodeIdOf("planted"))).toBeUndefined();
    // An old, validly signed state written again (a replay): the newer view stays.
    reader.transact(() => {
      for (const [k, v] of Object.entries(old)) (reader.nodes.get(real) as Y.Map<unknown>).set(k, v);
    });
    expect((reader.nodes.get(real) as Y.Map<unknown>).get("lastSeen")).toBe(100);
    expect(reader.getNode(real)).toMatchObject({ lastSeen: 200, label: "real" });
  });
});
