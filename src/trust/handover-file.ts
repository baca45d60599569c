import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isNodeId } from "../state/document-reader.js";
import type { Handover } from "./operator-keys.js";

/**
 * `.huskies/handover.json` on a rendezvous recovered with an operator key (`serve --from-replica
 * AGENT_DIR --operator-key FILE`): the signed handover it shows in every challenge, the lost key,
 * and the nodes of the project at recovery (the replica's node entries). Those nodes' certificates
 * from the lost key still admit them here, so agents that follow the handover need no join string;
 * a certificate the lost key issues to anyone else (whoever holds the lost disk could) does not.
 * Kept for good: an agent that was offline during the recovery follows on its next connection.
 */
export interface HandoverFile {
  handover: Handover;
  lostKey: string;
  nodes: string[];
}

export const HANDOVER_FILE = "handover.json";

export function writeHandoverFile(huskies: string, f: HandoverFile): void {
  writeFileSync(join(huskies, HANDOVER_FILE), JSON.stringify(f, null, 2) + "\n", { mode: 0o600 });
}

/** The file if it is there, well-formed and for `ownKey`; otherwise undefined (a stale or foreign file is ignored). */
export function readHandoverFile(huskies: string, ownKey: string): HandoverFile | undefined {
  const file = join(huskies, HANDOVER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const f = JSON.parse(readFileSync(file, "utf8")) as Partial<HandoverFile>;
    const h = f.handover;
    if (!h || h.newKey !== ownKey || !isNodeId(h.operator) || !Number.isSafeInteger(h.at) || typeof h.sig !== "string") return undefined;
    if (!isNodeId(f.lostKey) || !Array.isArray(f.nodes)) return undefined;
    return { handover: h, lostKey: f.lostKey, nodes: f.nodes.filter((n): n is string => isNodeId(n)) };
  } catch {
    return undefined;
  }
}
