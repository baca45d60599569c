import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { commonProtocol, incompatibilityMessage, releaseBehind } from "../../src/pipeline/compatibility.js";
import { kindOfFailureText } from "../../src/pipeline/failure-kind.js";
import { parseAuthFrame } from "../../src/sync/frames.js";
import { documentSchema, migrateDocument, SCHEMA } from "../../src/state/migrations/index.js";
import { failureKind } from "../../src/state/migrations/failure-kind.js";
import { PipelineDoc, ReadOnlyDocument } from "../../src/state/pipeline-doc.js";
import { SchemaGuard } from "../../src/state/schema-guard.js";
import { silent } from "../support/in-process.js";

const A = "a".repeat(64);
const CH = "c".repeat(64);

describe("protocol compatibility (README: Versions)", () => {
  it("two ranges link on the highest protocol both speak, and not at all when they do not overlap", () => {
    expect(commonProtocol({ protocol: 2, min: 1 }, { protocol: 1, min: 1 })).toBe(1);
    expect(commonProtocol({ protocol: 3, min: 2 }, { protocol: 5, min: 3 })).toBe(3);
    expect(commonProtocol({ protocol: 3, min: 3 }, { protocol: 2, min: 1 })).toBeUndefined();
    expect(commonProtocol({ protocol: 2, min: 2 }, { protocol: 4, min: 3 })).toBeUndefined();
  });

  it("the refusal names both releases and the side to upgrade", () => {
    const self = { protocol: 3, min: 3, version: "0.4.0" };
    const old = incompatibilityMessage(self, { protocol: 1, min: 1, nodeId: A });
    expect(old).toBe(
      `refusing node ${A.slice(0, 12)}: it runs huskies before 0.3.0 (protocol 1), this node runs huskies 0.4.0 (protocol 3): upgrade node ${A.slice(0, 12)}`,
    );
    const newer = incompatibilityMessage(self, { protocol: 5, min: 4, version: "1.0.0", nodeId: A });
    expect(newer).toContain("it runs huskies 1.0.0 (protocols 4–5)");
    expect(newer.endsWith("upgrade this node")).toBe(true);
  });

  it("release order compares numbers, not strings", () => {
    expect(releaseBehind("0.3.0", "0.10.0")).toBe(true);
    expect(releaseBehind("0.10.0", "0.3.0")).toBe(false);
    expect(releaseBehind("1.2.3", "1.2.3")).toBe(false);
    expect(releaseBehind("1.2", "1.2.1")).toBe(true);
  });

  it("handshake frames: a frame without `protocol` is protocol 1; bad values are malformed; unknown fields are ignored", () => {
    expect(parseAuthFrame({ type: "challenge", v: 2, nodeId: A, challenge: CH })).toEqual({
      type: "challenge",
      v: 2,
      nodeId: A,
      challenge: CH,
      protocol: 1,
    });
    const withAll = parseAuthFrame({
      type: "challenge",
      v: 2,
      nodeId: A,
      challenge: CH,
      protocol: 4,
      minProtocol: 2,
      version: "0.9.1",
      extra: { x: 1 },
    });
    expect(withAll).toEqual({ type: "challenge", v: 2, nodeId: A, challenge: CH, protocol: 4, minProtocol: 2, version: "0.9.1" });
    for (const bad of [
      { protocol: "2" },
      { protocol: 0 },
      { protocol: 1.5 },
      { protocol: 2, minProtocol: 3 },
      { version: "a b" },
      { version: 3 },
    ])
      expect(() => parseAuthFrame({ type: "challenge", v: 2, nodeId: A, challenge: CH, ...bad })).toThrow();
  });
});

/** A document the way the release before schemas wrote it: items with plain-text `failure`. */
function schemaOneDoc(failures: Record<string, string | undefined>): Y.Doc {
  const doc = new Y.Doc();
  doc.transact(() => {
    let n = 0;
    for (const [name, failure] of Object.entries(failures)) {
      const id = `${++n}_story_${name}`;
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({
        id,
        name,
        type: "story",
        stage: "current",
        body: "",
        createdAt: 1,
        stageAt: 1,
        claim: null,
        epoch: 0,
        retries: 1,
        blocked: null,
        dependsOn: [],
      }))
        m.set(k, v);
      if (failure !== undefined) m.set("failure", failure);
      m.set("requests", new Y.Map());
      doc.getMap("items").set(id, m);
    }
    doc.getMap("meta").set("lastNumber", n);
  });
  return doc;
}

describe("document schema and migrations", () => {
  const texts = {
    gates: "gate `npm test` failed (exit 1):\nFAIL test/a.test.js",
    merged: "gates failed on the merged tree:\ngate `make` failed (exit 2):",
    qa: "QA failed: QA: FAIL the criterion is not met",
    push: "push of feature/story-3_story_push was rejected: ! [rejected]",
    base: "could not push main after 3 attempts",
    none: "no commits on feature/story-6_story_none: commit your work with git",
    conflict: "squash-merge conflicts in src/a.ts",
    agent: "the coding agent failed: exit 1",
    review: "please also handle the empty list",
  };

  it("reads the kind of an old failure from the wording the old releases used", () => {
    expect(Object.fromEntries(Object.entries(texts).map(([k, t]) => [k, kindOfFailureText(t)]))).toEqual({
      gates: "gates",
      merged: "gates",
      qa: "qa",
      push: "push_rejected",
      base: "push_rejected",
      none: "no_commits",
      conflict: "conflict",
      agent: "runtime",
      review: "other",
    });
  });

  it("failure-kind (1 → 2) turns text into {kind, message} and leaves everything else alone", () => {
    const doc = schemaOneDoc({ ...texts, clean: undefined });
    expect(documentSchema(doc)).toBe(1);
    const before = new PipelineDoc(schemaOneDoc({ ...texts, clean: undefined }), { log: silent });
    const report = migrateDocument(doc);
    expect(report).toEqual({ from: 1, to: SCHEMA, steps: [{ name: failureKind.name, to: 2, changed: Object.keys(texts).length }] });
    expect(doc.getMap("meta").get("schema")).toBe(SCHEMA);
    const items = doc.getMap("items") as Y.Map<Y.Map<unknown>>;
    expect(items.get("1_story_gates")!.get("failure")).toEqual({ kind: "gates", message: texts.gates });
    expect(items.get("9_story_review")!.get("failure")).toEqual({ kind: "other", message: texts.review });
    expect(items.get("10_story_clean")!.has("failure")).toBe(false);
    // Read through the one reader, the migrated document says what the old one said, with kinds.
    const after = new PipelineDoc(doc, { log: silent });
    for (const item of before.listItems()) {
      const migrated = after.getItem(item.id)!;
      expect(migrated).toEqual(item);
    }
    // Once: a second run changes nothing.
    expect(migrateDocument(doc)).toBeUndefined();
  });

  it("a node meeting a newer (or unreadable) schema refuses every write until the document is one it understands", () => {
    const pipeline = new PipelineDoc(new Y.Doc(), { log: silent });
    const guard = new SchemaGuard(pipeline, { migrate: false, log: silent });
    guard.start();
    pipeline.createItem({ name: "before" });
    pipeline.meta.set("schema", SCHEMA + 1);
    expect(pipeline.readOnly).toContain(`schema ${SCHEMA + 1}`);
    expect(() => pipeline.createItem({ name: "refused" })).toThrow(ReadOnlyDocument);
    expect(() => pipeline.setOwnNode(A, { label: "x" })).toThrow(ReadOnlyDocument);
    expect(() => pipeline.deleteItem("1_story_before")).toThrow(ReadOnlyDocument);
    expect(pipeline.listItems().map((i) => i.name)).toEqual(["before"]);
    pipeline.doc.transact(() => pipeline.meta.set("schema", "two"));
    expect(pipeline.readOnly).toContain("not a schema number");
    pipeline.doc.transact(() => pipeline.meta.set("schema", SCHEMA));
    expect(pipeline.readOnly).toBeUndefined();
    expect(pipeline.createItem({ name: "after" }).name).toBe("after");
    guard.close();
  });

  it("the rendezvous migrates an old document when it opens it, and one that arrives later when it arrives", async () => {
    const old = new PipelineDoc(schemaOneDoc({ x: texts.qa }), { log: silent });
    const guard = new SchemaGuard(old, { migrate: true, log: silent });
    guard.start();
    await Promise.resolve();
    expect(documentSchema(old.doc)).toBe(SCHEMA);
    expect(old.getItem("1_story_x")!.failure).toEqual({ kind: "qa", message: texts.qa });
    guard.close();

    // A rendezvous that lost its replica stamps nothing on its empty document…
    const empty = new PipelineDoc(new Y.Doc(), { log: silent });
    const waiting = new SchemaGuard(empty, { migrate: true, stampEmpty: () => false, log: silent });
    waiting.start();
    await Promise.resolve();
    expect(empty.meta.has("schema")).toBe(false);
    // …and migrates the agents' old document when it syncs.
    Y.applyUpdate(empty.doc, Y.encodeStateAsUpdate(schemaOneDoc({ y: texts.push })));
    await Promise.resolve();
    expect(documentSchema(empty.doc)).toBe(SCHEMA);
    expect(empty.getItem("1_story_y")!.failure?.kind).toBe("push_rejected");
    waiting.close();

    // A new project's empty document is stamped at once.
    const fresh = new PipelineDoc(new Y.Doc(), { log: silent });
    new SchemaGuard(fresh, { migrate: true, stampEmpty: () => true, log: silent }).start();
    await Promise.resolve();
    expect(fresh.meta.get("schema")).toBe(SCHEMA);
  });
});
