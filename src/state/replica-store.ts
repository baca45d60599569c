/**
 * Where a replica's updates are kept. The contract every store meets:
 * an `append` that has returned survives a crash of the process at any later instant, and
 * `load` yields updates in the order they were appended.
 */
export interface ReplicaStore {
  /** Snapshot first (if any), then every appended update, in append order. */
  load(): Uint8Array[];
  append(update: Uint8Array): void;
  /**
   * Replace everything appended so far by `snapshot`, which must already contain all of it
   * (the caller encodes its in-memory document, which has deleted content garbage-collected).
   */
  compact(snapshot: Uint8Array): void;
  /** Rows waiting to be compacted. */
  pendingCount(): number;
  close(): void;
}
