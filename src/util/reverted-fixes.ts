/**
 * TEST-ONLY. A switch that turns four fixes of issue 24 back off, so the chaos run and the
 * simulation of issue 25 can prove they would have caught each bug. Never set it in production.
 *
 *   HUSKIES_REVERT_FIXES=hung-peer,id-counter,clock-liveness,empty-replica
 *
 * - `hung-peer`: a dialled link pings its socket whatever its state (the crash of a socket still
 *   connecting to a frozen rendezvous: "WebSocket is not open: readyState 0").
 * - `id-counter`: `meta.lastNumber` is trusted as it is (2^53 loops for ever, 1e21 makes bad ids).
 * - `clock-liveness`: peers are judged alive by their own `lastSeen` against this machine's clock.
 * - `empty-replica`: a rendezvous whose replica was lost takes writes before it has synced.
 *
 * Unset (the default everywhere but those tests), every fix is on. The variable is read at each
 * call (parsed again only when it changed), so an in-process simulation can switch it per seed.
 */
export const REVERTIBLE_FIXES = ["hung-peer", "id-counter", "clock-liveness", "empty-replica"] as const;
export type RevertibleFix = (typeof REVERTIBLE_FIXES)[number];

/** The fixes named in `value` (comma-separated; unknown names are ignored). */
export function parseRevertedFixes(value: string | undefined): ReadonlySet<RevertibleFix> {
  const names = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return new Set(REVERTIBLE_FIXES.filter((f) => names.includes(f)));
}

let parsedFrom: string | undefined;
let reverted: ReadonlySet<RevertibleFix> = new Set();

/** Whether the test-only switch has turned this fix off. */
export function isReverted(fix: RevertibleFix): boolean {
  const value = process.env.HUSKIES_REVERT_FIXES;
  if (value !== parsedFrom) {
    parsedFrom = value;
    reverted = parseRevertedFixes(value);
  }
  return reverted.has(fix);
}
