/** Item types and ids: `<number>_<type>_<slug>`, e.g. `42_story_add_login`. */
export const ITEM_TYPES = ["story", "bug", "spike", "refactor"] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

export const ITEM_ID_PATTERN = /^[0-9]+_(story|bug|spike|refactor)_[a-z0-9_]{0,60}$/;
const MAX_SLUG = 60;

export function isItemType(value: unknown): value is ItemType {
  return typeof value === "string" && (ITEM_TYPES as readonly string[]).includes(value);
}

/**
 * Slug of a story name: lowercase ASCII letters and digits joined by `_`.
 * Everything else (quotes, `..`, `/`, newlines, shell metacharacters) is dropped here,
 * which is what makes ids safe in paths, branch names and process arguments.
 */
export function slugify(name: string): string {
  return name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, MAX_SLUG)
    .replace(/_+$/g, "");
}

export function makeItemId(n: number, type: ItemType, name: string): string {
  const id = `${n}_${type}_${slugify(name)}`;
  assertItemId(id);
  return id;
}

export function isItemId(value: unknown): value is string {
  return typeof value === "string" && ITEM_ID_PATTERN.test(value);
}

/** Throw unless `value` is a well-formed id; call before an id touches a path, branch or process. */
export function assertItemId(value: unknown): asserts value is string {
  if (!isItemId(value)) throw new Error(`invalid item id: ${JSON.stringify(value)}`);
}

export function itemNumber(id: string): number {
  return Number.parseInt(id.split("_", 1)[0]!, 10);
}

export function featureBranch(id: string): string {
  assertItemId(id);
  return `feature/story-${id}`;
}
