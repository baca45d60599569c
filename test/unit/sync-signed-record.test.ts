import { describe, expect, it } from "vitest";
import { canonicalJson, signParts, signRecord, verifyParts, verifyRecord } from "../../src/trust/signed-record.js";
import { issueCertificate, verifyCertificate } from "../../src/trust/admission.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";

describe("signed records", () => {
  it("canonical JSON sorts keys at every level and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow();
    expect(() => canonicalJson({ x: () => 1 })).toThrow();
  });

  it("a record verifies whatever its key order, and not after any field changes", () => {
    const node = ephemeralIdentity();
    const signed = signRecord(node, "huskies-node-v1", { label: "a", lastSeen: 5, capacity: { qa: 0, coder: 2 } });
    const reordered = { capacity: { coder: 2, qa: 0 }, sig: signed.sig, lastSeen: 5, label: "a" };
    expect(verifyRecord("huskies-node-v1", node.nodeId, reordered)).toBe(true);
    expect(verifyRecord("huskies-node-v1", node.nodeId, { ...reordered, lastSeen: 6 })).toBe(false);
    expect(verifyRecord("huskies-node-v1", ephemeralIdentity().nodeId, reordered)).toBe(false);
    expect(verifyRecord("huskies-directive-v1", node.nodeId, reordered)).toBe(false);
    expect(verifyRecord("huskies-node-v1", node.nodeId, "boom")).toBe(false);
  });

  it("the kind prefix keeps a signature from meaning anything else; parts but the last may not contain the separator", () => {
    const id = ephemeralIdentity();
    const sig = signParts(id, "huskies-admit-v1", id.nodeId, "n", 1);
    expect(verifyParts(id.nodeId, sig, "huskies-admit-v1", id.nodeId, "n", 1)).toBe(true);
    expect(verifyParts(id.nodeId, sig, "huskies-revoke-v1", id.nodeId, "n", 1)).toBe(false);
    expect(() => signParts(id, "k", "a|b", "c")).toThrow();
    // The last part (a record's JSON) may: nothing follows it to be confused with.
    const last = signParts(id, "k", "a", "x|y");
    expect(verifyParts(id.nodeId, last, "k", "a", "x|y")).toBe(true);
    expect(verifyParts(id.nodeId, last, "k", "a|x", "y")).toBe(false);
    expect(verifyParts(id.nodeId, sig, "huskies-admit-v1", `${id.nodeId}|n`, 1)).toBe(false);
  });

  it("certificates verify only for their node and issuer", () => {
    const rendezvous = ephemeralIdentity();
    const node = ephemeralIdentity().nodeId;
    const cert = issueCertificate(rendezvous, node, 1000);
    expect(verifyCertificate(cert, { node, issuer: rendezvous.nodeId })).toBe(true);
    expect(verifyCertificate(cert, { node: ephemeralIdentity().nodeId, issuer: rendezvous.nodeId })).toBe(false);
    expect(verifyCertificate({ ...cert, issuedAt: 1001 }, { node, issuer: rendezvous.nodeId })).toBe(false);
    expect(verifyCertificate(cert, { node, issuer: undefined })).toBe(false);
  });
});
