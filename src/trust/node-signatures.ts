import type { Identity } from "./identity.js";
import type { NodeSignatures } from "../state/pipeline-doc.js";
import { signRecord, verifyRecord } from "./signed-record.js";

export const NODE_ENTRY_KIND = "huskies-node-v1";

/**
 * Node entries signed by their node (issue 11, ownership): whoever can write the document can
 * write any map entry, but only the key a node id names can sign that node's entry, so entries
 * planted or altered by anyone else are ignored by every reader.
 */
export function nodeSignatures(identity: Identity): NodeSignatures {
  return {
    sign: (_id, fields) => signRecord(identity, NODE_ENTRY_KIND, fields).sig,
    verify: (id, fields, sig) => verifyRecord(NODE_ENTRY_KIND, id, { ...fields, sig }),
  };
}
