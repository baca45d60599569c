/**
 * The item counter's rule (docs/architecture.md, "Faults": nothing acknowledged is overwritten,
 * no id is used twice). Pure.
 *
 * `meta.lastNumber` is shared with every admitted replica and any Yjs client, so it is validated
 * like any other document value: an integer from 0 below 2^31. Anything else (2^53, where `n + 1`
 * is `n` and creation looped for ever; 1e21, which prints as `1e+21` and made every id invalid; a
 * string, a negative number) is a malformed entry: it is ignored (and counted by the caller) and
 * the next number is derived from the items present. A valid counter behind the items present
 * (a replica that lost its history, two replicas that each wrote it) never hands out a number an
 * item already has: the next number is above both.
 */

/** Item numbers stay below 2^31: far beyond any project, and exact in every JSON reader. */
export const ITEM_NUMBER_LIMIT = 2 ** 31;

export interface NextId {
  /** The number for the next item. */
  next: number;
  /** Why `meta.lastNumber` was ignored, when it was present and malformed. */
  malformed?: string;
}

/** Whether `n` may number an item (and be the counter): an integer in [0, 2^31). */
export function isItemNumber(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n < ITEM_NUMBER_LIMIT;
}

/**
 * The next item number from the counter as read from the document and the highest valid number
 * among the items present (0 when none). Throws when numbers are exhausted: the caller turns that
 * into a refusal, never a loop.
 */
export function nextId(lastNumber: unknown, highestPresent: number): NextId {
  const valid = lastNumber === undefined || isItemNumber(lastNumber);
  const counter = isItemNumber(lastNumber) ? lastNumber : 0;
  const next = Math.max(counter, isItemNumber(highestPresent) ? highestPresent : 0) + 1;
  if (next >= ITEM_NUMBER_LIMIT) throw new RangeError(`item numbers are exhausted (the highest in use is ${next - 1})`);
  return valid ? { next } : { next, malformed: `lastNumber ${describe(lastNumber)} is not an integer from 0 below 2^31` };
}

function describe(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return JSON.stringify(v.slice(0, 40));
  return typeof v;
}
