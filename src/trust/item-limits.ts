import { isItemType } from "../pipeline/item-id.js";

/**
 * The limits REST puts on an item's content (src/server/operator-actions.ts), checked again on
 * every item read from the document: a value written around REST, even by a key allowed to
 * write it, must not make a node prompt a coder with 10 MB or a board render it.
 */
export const ITEM_LIMITS = { name: 200, body: 100_000, dependsOn: 100 } as const;

/** Why an item's content breaks the limits, or undefined. */
export function itemFieldProblem(v: Record<string, unknown>): string | undefined {
  if (typeof v.name !== "string" || v.name.length > ITEM_LIMITS.name) return `name missing or over ${ITEM_LIMITS.name} characters`;
  if (v.body !== undefined && (typeof v.body !== "string" || v.body.length > ITEM_LIMITS.body))
    return `body over ${ITEM_LIMITS.body} characters`;
  if (!isItemType(v.type)) return "invalid type";
  if (v.dependsOn !== undefined && (!Array.isArray(v.dependsOn) || v.dependsOn.length > ITEM_LIMITS.dependsOn)) return "invalid dependsOn";
  return undefined;
}
