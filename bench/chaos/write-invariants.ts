import { isItemId, itemNumber } from "../../src/pipeline/item-id.js";
import { isItemNumber } from "../../src/pipeline/next-id.js";
import type { Violation } from "./invariants.js";

/**
 * The chaos run's checks on what the rendezvous hands out (issue 25): the ids of acknowledged
 * creates and whether it still answers. Pure, like `invariants.ts`, beside it rather than in it
 * because only the chaos run observes them (the simulation allocates no ids and has no HTTP).
 */
export interface WriteObservation {
  /** Ids of creates the rendezvous answered 2xx, in order, one entry per create. */
  acknowledged: readonly string[];
  /** The document as read now; undefined when the rendezvous did not answer. */
  stories: readonly { id: string }[] | undefined;
  /** How long the rendezvous has not answered a read although no fault was holding it (ms). */
  silentMs: number;
}

/** A rendezvous silent this long after a heal is stuck (a read takes milliseconds; 20 s covers a loaded machine). */
export const ANSWER_MS = 20_000;

/**
 * One id acknowledged for two creates: the document keeps one item per id, so one acknowledged
 * story was overwritten. An id that is present cannot show this; the repeated acknowledgement does.
 */
export function reusedIds(o: WriteObservation): Violation[] {
  const count = new Map<string, number>();
  for (const id of o.acknowledged) count.set(id, (count.get(id) ?? 0) + 1);
  return [...count]
    .filter(([, n]) => n > 1)
    .map(([id, n]) => ({
      invariant: "acknowledged-create-kept",
      detail: `${id} was acknowledged for ${n} creates: the document keeps one item under an id, so ${n - 1} acknowledged ${n > 2 ? "stories were" : "story was"} overwritten`,
    }));
}

/** Every id handed out or held is `<n>_<type>_<slug>` with n an item number (below 2^31), and no number is on two stories. */
export function badIds(o: WriteObservation): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const id of [...o.acknowledged, ...(o.stories ?? []).map((s) => s.id)]) {
    if (seen.has(id)) continue;
    seen.add(id);
    if (!isItemId(id) || !isItemNumber(itemNumber(id)))
      out.push({ invariant: "item-ids", detail: `${JSON.stringify(id)} is not an item id with a number below 2^31` });
  }
  const byNumber = new Map<number, string[]>();
  for (const s of o.stories ?? []) {
    if (!isItemId(s.id)) continue;
    const n = itemNumber(s.id);
    byNumber.set(n, [...(byNumber.get(n) ?? []), s.id]);
  }
  for (const [n, ids] of byNumber)
    if (ids.length > 1) out.push({ invariant: "item-ids", detail: `number ${n} is on ${ids.length} stories: ${ids.join(", ")}` });
  return out;
}

export function unanswered(o: WriteObservation): Violation[] {
  if (o.stories || o.silentMs < ANSWER_MS) return [];
  return [
    {
      invariant: "rendezvous-answers",
      detail: `the rendezvous answered no read for ${Math.round(o.silentMs / 1000)} s after the fault was healed`,
    },
  ];
}

/** Every check of this file, in a stable order. */
export function checkWrites(o: WriteObservation): Violation[] {
  return [...reusedIds(o), ...badIds(o), ...unanswered(o)];
}
