import type { Identity } from "./identity.js";
import { signRecord, verifyRecord } from "./signed-record.js";

/**
 * The signatures of the account ledger (issue 28), in one place so the rights table can take them
 * over: a pause of an account (`huskies-account-v1`) and a node's spend of the day
 * (`huskies-spend-v1`) are each signed by the node that wrote them, named in the record's `node`.
 */
export const ACCOUNT_PAUSE_KIND = "huskies-account-v1";
/** The document maps the ledger lives in (roots of the document: `KNOWN_ROOTS`). */
export const ACCOUNTS_MAP = "accounts";
export const SPEND_MAP = "spend";
export const SPEND_KIND = "huskies-spend-v1";

export type LedgerKind = typeof ACCOUNT_PAUSE_KIND | typeof SPEND_KIND;

/** `fields` signed by this node (its id goes into `node`). */
export function signLedger<T extends Record<string, unknown>>(
  identity: Identity,
  kind: LedgerKind,
  fields: T,
): T & { node: string; sig: string } {
  return signRecord(identity, kind, { ...fields, node: identity.nodeId });
}

/** Whether `record` was signed by the node it names. Never throws. */
export function verifyLedger(kind: LedgerKind, record: unknown): record is Record<string, unknown> & { node: string; sig: string } {
  const node = record && typeof record === "object" ? (record as { node?: unknown }).node : undefined;
  return typeof node === "string" && /^[0-9a-f]{64}$/.test(node) && verifyRecord(kind, node, record);
}
