import { describe, expect, it } from "vitest";
import { idempotencyKeyProblem, replayVerdict } from "../../src/pipeline/idempotency-rule.js";

const answer = { fingerprint: "f1", status: 201, body: '{"id":"1_story_a"}', createdAt: 5 };

describe("Idempotency-Key: what a repeated create gets", () => {
  it("the first answer for the same request, a conflict for another one, and 409 while the first is in flight", () => {
    expect(replayVerdict(undefined, undefined, "f1")).toEqual({ kind: "new" });
    expect(replayVerdict(answer, undefined, "f1")).toEqual({ kind: "replay", answer });
    expect(replayVerdict(answer, undefined, "f2")).toMatchObject({ kind: "conflict", status: 422 });
    expect(replayVerdict(undefined, "f1", "f1")).toMatchObject({ kind: "conflict", status: 409 });
  });

  it("keys are 1 to 255 printable characters", () => {
    expect(idempotencyKeyProblem("0b8f6c1e-8d7c-4c1d-9b1a-2f0a3c4d5e6f")).toBeUndefined();
    expect(idempotencyKeyProblem("")).toMatch(/1 to 255/);
    expect(idempotencyKeyProblem("x".repeat(256))).toMatch(/1 to 255/);
    expect(idempotencyKeyProblem("has space")).toMatch(/printable/);
    expect(idempotencyKeyProblem("nul\u0000")).toMatch(/printable/);
  });
});
