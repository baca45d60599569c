import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import type { Identity } from "../../src/trust/identity.js";

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

const byName = new Map<string, Identity>();

/**
 * A simulated node's Ed25519 identity, derived from its name so that the same name is the same
 * node id in every run (a real node draws its key at random: `loadOrCreateIdentity`). Signing is
 * as a real node signs, so every replica checks writes with the real `ItemAuthority`.
 */
export function simIdentity(name: string): Identity {
  let id = byName.get(name);
  if (!id) {
    const seed = createHash("sha256").update(`huskies-sim|${name}`).digest();
    const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
    const jwk = createPublicKey(key).export({ format: "jwk" }) as { x: string };
    const nodeId = Buffer.from(jwk.x, "base64url").toString("hex");
    id = { nodeId, sign: (message) => sign(null, Buffer.from(message), key).toString("hex") };
    byName.set(name, id);
  }
  return id;
}
