import * as Y from "yjs";
import { DOCUMENT_WARN_SHARE } from "../config/defaults.js";
import { ACCOUNTS_MAP, SPEND_MAP } from "./ledger-signatures.js";
import { REVOCATIONS_MAP } from "./revocations.js";

/**
 * What a peer may send (issue 27), checked on every update before it is applied: at most
 * `max_update_bytes` (the rendezvous' own link is exempt: a new agent's first sync carries the
 * whole document), touching only the document's known roots (a write under another root name
 * would grow the document where no reader looks), and nothing while the document is over its
 * budget (`max_document_bytes`, a warning at 80 %). Item fields are held to the REST limits by
 * the readers (item-limits.ts).
 */
export const KNOWN_ROOTS: ReadonlySet<string> = new Set(["items", "nodes", "meta", "control", REVOCATIONS_MAP, ACCOUNTS_MAP, SPEND_MAP]);

export interface UpdateLimits {
  maxUpdateBytes: number;
  maxDocumentBytes: number;
  /** The document's size now (bytes on disk). */
  documentBytes(): number;
  /** Told once each time the document crosses 80 % of its budget (and again after it fell below). */
  warn(bytes: number, max: number): void;
}

/** The roots an update writes to that are not the document's. Never throws (a bad update is refused by Yjs). */
export function unknownRoots(update: Uint8Array): string[] {
  const out = new Set<string>();
  try {
    for (const s of Y.decodeUpdate(update).structs) {
      const parent = (s as { parent?: unknown }).parent;
      if (typeof parent === "string" && !KNOWN_ROOTS.has(parent)) out.add(parent);
    }
  } catch {
    /* Yjs refuses it when applied; the link is closed there */
  }
  return [...out];
}

export class UpdateGuard {
  private warned = false;

  constructor(private readonly limits: () => UpdateLimits) {}

  /** Why `update` from a peer is refused, or undefined. */
  check(update: Uint8Array): { code: "too-big" | "unknown-root" | "over-budget"; reason: string } | undefined {
    const l = this.limits();
    if (update.byteLength > l.maxUpdateBytes) {
      return { code: "too-big", reason: `update of ${update.byteLength} bytes is over max_update_bytes (${l.maxUpdateBytes})` };
    }
    const size = l.documentBytes();
    if (size >= l.maxDocumentBytes * DOCUMENT_WARN_SHARE) {
      if (!this.warned) l.warn(size, l.maxDocumentBytes);
      this.warned = true;
    } else this.warned = false;
    if (size >= l.maxDocumentBytes)
      return { code: "over-budget", reason: `the document is over max_document_bytes (${l.maxDocumentBytes})` };
    const roots = unknownRoots(update);
    if (roots.length)
      return { code: "unknown-root", reason: `update writes outside the document's roots (${roots.slice(0, 3).join(", ")})`.slice(0, 120) };
    return undefined;
  }
}
