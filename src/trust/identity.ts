import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** A node's Ed25519 identity; its id is the lowercase hex of the raw 32-byte public key. */
export interface Identity {
  nodeId: string;
  sign(message: string): string;
}

/** Load the key at `file`, or create it (mode 600) on first run. */
export function loadOrCreateIdentity(file: string): Identity {
  let key: KeyObject;
  if (existsSync(file)) {
    key = createPrivateKey(readFileSync(file));
    // A key readable by others is a key shared with others; tighten it rather than refuse to start.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } else {
    mkdirSync(dirname(file), { recursive: true });
    key = generateKeyPairSync("ed25519").privateKey;
    writeFileSync(file, key.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  }
  return identityFromKey(key);
}

/** The node id of an existing key file (without creating one), e.g. for `huskies node pause`. */
export function nodeIdOfKeyFile(file: string): string {
  return identityFromKey(createPrivateKey(readFileSync(file))).nodeId;
}

/** The identity of an existing key file (an operator's key, which must never be created by accident). */
export function loadIdentity(file: string): Identity {
  return identityFromKey(createPrivateKey(readFileSync(file)));
}

export function ephemeralIdentity(): Identity {
  return identityFromKey(generateKeyPairSync("ed25519").privateKey);
}

function identityFromKey(key: KeyObject): Identity {
  const jwk = createPublicKey(key).export({ format: "jwk" }) as { x: string };
  const nodeId = Buffer.from(jwk.x, "base64url").toString("hex");
  return { nodeId, sign: (message) => sign(null, Buffer.from(message), key).toString("hex") };
}

/** Check `signature` (hex) over `message` by the key whose hex id is `nodeId`. Never throws. */
export function verifySignature(nodeId: string, message: string, signature: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(nodeId) || !/^[0-9a-f]{128}$/.test(signature)) return false;
  try {
    return verify(null, Buffer.from(message), publicKeyOf(nodeId), Buffer.from(signature, "hex"));
  } catch {
    return false;
  }
}

/**
 * Public keys by node id, built once: importing a JWK costs several times the Ed25519 check
 * itself, and a node checks the same few keys (its fleet, the operators) over and over.
 */
const PUBLIC_KEYS_MAX = 10_000;
const publicKeys = new Map<string, KeyObject>();

function publicKeyOf(nodeId: string): KeyObject {
  let key = publicKeys.get(nodeId);
  if (!key) {
    if (publicKeys.size >= PUBLIC_KEYS_MAX) publicKeys.clear();
    key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(nodeId, "hex").toString("base64url") }, format: "jwk" });
    publicKeys.set(nodeId, key);
  }
  return key;
}
