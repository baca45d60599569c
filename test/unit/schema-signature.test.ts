import pino from "pino";
import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { SCHEMA } from "../../src/state/migrations/index.js";
import { SCHEMA_KIND, SchemaGuard } from "../../src/state/schema-guard.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { signRecord } from "../../src/trust/signed-record.js";

const silent = pino({ level: "silent" });

describe("meta.schema is honoured only when an operator signed it", () => {
  it("an operator-signed newer schema makes the node read-only; the same number signed by another key does not", () => {
    const operator = ephemeralIdentity();
    const mallory = ephemeralIdentity();
    const pipeline = new PipelineDoc(new Y.Doc(), { log: silent });
    const counted: string[] = [];
    const guard = new SchemaGuard(pipeline, {
      migrate: false,
      log: silent,
      isOperator: (k) => k === operator.nodeId,
      countUnverified: (k) => counted.push(k),
    });
    guard.start();
    const newer = SCHEMA + 1;
    pipeline.doc.transact(() => {
      pipeline.meta.set("schema", newer);
      pipeline.meta.set("schemaSig", signRecord(mallory, SCHEMA_KIND, { schema: newer, by: mallory.nodeId }));
    });
    expect(pipeline.readOnly).toBeUndefined();
    expect(counted.length).toBe(1);
    // A signature for another number does not cover this one.
    pipeline.doc.transact(() => {
      pipeline.meta.set("schemaSig", signRecord(operator, SCHEMA_KIND, { schema: newer + 1, by: operator.nodeId }));
    });
    expect(pipeline.readOnly).toBeUndefined();
    pipeline.doc.transact(() => {
      pipeline.meta.set("schemaSig", signRecord(operator, SCHEMA_KIND, { schema: newer, by: operator.nodeId }));
    });
    expect(pipeline.readOnly).toContain(`schema ${newer}`);
    guard.close();
  });

  it("the rendezvous writes its own schema back, signed, over an unsigned one", async () => {
    const rendezvous = ephemeralIdentity();
    const pipeline = new PipelineDoc(new Y.Doc(), { log: silent });
    const guard = new SchemaGuard(pipeline, {
      migrate: true,
      stampEmpty: () => true,
      log: silent,
      identity: rendezvous,
      isOperator: (k) => k === rendezvous.nodeId,
    });
    guard.start();
    await Promise.resolve();
    pipeline.doc.transact(() => pipeline.meta.set("schema", "nine"), "peer");
    expect(pipeline.readOnly).toBeUndefined();
    await Promise.resolve();
    expect(pipeline.meta.get("schema")).toBe(SCHEMA);
    expect((pipeline.meta.get("schemaSig") as { by: string }).by).toBe(rendezvous.nodeId);
    guard.close();
  });
});
