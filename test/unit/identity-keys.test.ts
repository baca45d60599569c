import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ephemeralIdentity, identityFromSeed, loadIdentity, loadOrCreateIdentity, verifySignature } from "../../src/trust/identity.js";
import { tempDir } from "../support/in-process.js";

const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

describe("node identities from seeds and DER (no key-generation job, no JWK export)", () => {
  it("a key file written by an earlier release keeps its node id: the raw public key, as its JWK names it", () => {
    const t = tempDir();
    dirs.push(t);
    const file = join(t.dir, "node.key");
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }));
    const x = (createPublicKey(privateKey).export({ format: "jwk" }) as { x: string }).x;
    const id = loadIdentity(file);
    expect(id.nodeId).toBe(Buffer.from(x, "base64url").toString("hex"));
    expect(verifySignature(id.nodeId, "hello", id.sign("hello"))).toBe(true);
    expect(verifySignature(id.nodeId, "hellO", id.sign("hello"))).toBe(false);
  });

  it("a new key file is created once, readable by its owner only, and read back as the same node", () => {
    const t = tempDir();
    dirs.push(t);
    const file = join(t.dir, "sub", "node.key");
    const first = loadOrCreateIdentity(file);
    expect(first.nodeId).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateIdentity(file).nodeId).toBe(first.nodeId);
    const other = ephemeralIdentity();
    expect(other.nodeId).not.toBe(first.nodeId);
    expect(verifySignature(other.nodeId, "m", other.sign("m"))).toBe(true);
    expect(verifySignature(first.nodeId, "m", other.sign("m"))).toBe(false);
  });

  it("the same seed is the same node; a seed that is not 32 bytes is refused", () => {
    const seed = Buffer.alloc(32, 7);
    expect(identityFromSeed(seed).nodeId).toBe(identityFromSeed(Buffer.from(seed)).nodeId);
    expect(() => identityFromSeed(Buffer.alloc(31))).toThrow(/32 bytes/);
  });
});
