import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from "node:crypto";
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
    key = privateKeyOfSeed(randomBytes(32));
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
  return identityFromSeed(randomBytes(32));
}

/** The identity whose Ed25519 private key is this 32-byte seed (a simulation derives it from a name). */
export function identityFromSeed(seed: Buffer): Identity {
  return identityFromKey(privateKeyOfSeed(seed));
}

/*
 * Keys are made from a random seed and read as DER, never through `generateKeyPairSync` and a JWK
 * export: in Node 20, a garbage collection during `export({ format: "jwk" })` of a generated key
 * could run the finished key-generation job's destructor, which takes the mutex the export holds,
 * and the process hung for good before its first log line (seen in CI: a `huskies serve` that
 * never listened; its main thread in `ExportJWKEdKey` → GC → `~KeyGenJob` → `uv_mutex_lock`).
 */
/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
/** SPKI DER of an Ed25519 public key, up to its 32 raw bytes. */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function privateKeyOfSeed(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

function identityFromKey(key: KeyObject): Identity {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  const nodeId = der.subarray(SPKI_PREFIX.length).toString("hex");
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
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(nodeId, "hex")]), format: "der", type: "spki" });
    publicKeys.set(nodeId, key);
  }
  return key;
}
