import type { Identity } from "./identity.js";
import { verifySignature } from "./identity.js";

/**
 * Records signed by a node's Ed25519 key: admission certificates, revocations, node entries,
 * operator directives. Every signed text starts with a kind prefix (`huskies-admit-v1`,
 * `huskies-revoke-v1`, `huskies-node-v1`, …) so a signature made for one purpose never verifies
 * as another, and its parts are joined with `|`, which no part may contain.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/**
 * JSON with object keys sorted at every level and no whitespace, so signer and verifier hash the
 * same bytes whatever order a map was written in. `undefined` members are dropped (as
 * JSON.stringify does); non-finite numbers, functions and other non-JSON values throw.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot sign a non-finite number (${value})`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (
    (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) ||
    (typeof value === "object" && Object.getPrototypeOf(value) === null)
  ) {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  throw new TypeError(`cannot sign a value of type ${typeof value}`);
}

/**
 * The text that is signed: `kind|part|part…`. Throws if a part but the last contains the
 * separator (the last part, e.g. a record's JSON, may: nothing follows it to be confused with).
 */
export function signedText(kind: string, ...parts: Array<string | number>): string {
  for (const p of [kind, ...parts.slice(0, -1)]) {
    if (String(p).includes("|")) throw new TypeError(`a signed part may not contain "|": ${String(p).slice(0, 40)}`);
  }
  return [kind, ...parts].join("|");
}

/** Sign `kind|parts…` with `identity`; the signature is hex. */
export function signParts(identity: Identity, kind: string, ...parts: Array<string | number>): string {
  return identity.sign(signedText(kind, ...parts));
}

/** Whether `signature` is `signer`'s over `kind|parts…`. Never throws. */
export function verifyParts(signer: string, signature: unknown, kind: string, ...parts: Array<string | number>): boolean {
  if (typeof signature !== "string") return false;
  let text: string;
  try {
    text = signedText(kind, ...parts);
  } catch {
    return false;
  }
  return verifySignature(signer, text, signature);
}

/**
 * Sign a record of fields: `sig` = sign(`kind|signer|canonicalJSON(fields without sig)`).
 * Returns a copy of `fields` with `sig` set. Used for node entries (`huskies-node-v1`, signed by
 * the node itself) and operator directives.
 */
export function signRecord<T extends Record<string, unknown>>(identity: Identity, kind: string, fields: T): T & { sig: string } {
  const { sig: _drop, ...rest } = fields as T & { sig?: unknown };
  return { ...(rest as T), sig: signParts(identity, kind, identity.nodeId, canonicalJson(rest)) };
}

/** Whether `record.sig` is `signer`'s signature over the record's other fields. Never throws. */
export function verifyRecord(kind: string, signer: string, record: unknown): boolean {
  if (!record || typeof record !== "object" || Array.isArray(record)) return false;
  const { sig, ...rest } = record as Record<string, unknown>;
  let json: string;
  try {
    json = canonicalJson(rest);
  } catch {
    return false;
  }
  return verifyParts(signer, sig, kind, signer, json);
}
