import type { LogSize } from "./compaction-policy.js";

/**
 * Where a replica's updates are kept. The contract every store meets (and
 * `test/conformance/replica-store.ts` checks):
 * - an `append` that has returned survives a crash of the process at any later instant;
 * - `load` yields updates in the order they were appended;
 * - an `append` that throws stored nothing, and the store works again once the cause is gone
 *   (another process held the write lock, the disk was full, an I/O error).
 */
export interface ReplicaStore {
  /** Snapshot first (if any), then every appended update, in append order. */
  load(): Uint8Array[];
  /** Persist one update, or throw (typically a `StoreWriteError`) having persisted nothing. */
  append(update: Uint8Array): void;
  /**
   * Replace everything appended so far by `snapshot`, which must already contain all of it
   * (the caller encodes its in-memory document, which has deleted content garbage-collected).
   */
  compact(snapshot: Uint8Array): void;
  /** Rows (and their bytes) waiting to be compacted, and the snapshot's size. */
  logSize(): LogSize;
  close(): void;
  /**
   * Set when the store was found damaged or empty at open (corrupt file moved aside, 0-byte
   * file, no replica data in an existing file): the replica may have lost what it once held,
   * so the node should sync before acting on it.
   */
  readonly suspect?: string;
  /**
   * A row could not be applied (damaged bytes): set the stored data aside, where an operator can
   * still recover it, and continue with an empty store. Returns why the replica is now suspect.
   * A store without it keeps its rows, and the damaged ones are skipped (and reported).
   */
  quarantine?(why: string): string;
}

/** A write the store could not make; `code` is the SQLite/OS code where there is one. */
export class StoreWriteError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "StoreWriteError";
  }
}

/**
 * Thrown by `Replica.assertWritable()` while updates wait to be persisted: a write made now
 * could not be acknowledged. REST turns it into 503 with `reason`.
 */
export class StoreUnavailable extends Error {
  readonly status = 503;
  constructor(
    readonly reason: string,
    /** The answer's headline (REST `error`); the store's own by default. */
    readonly headline = "replica store unavailable: the write was not acknowledged",
  ) {
    super(`the replica store is not accepting writes: ${reason}`);
    this.name = "StoreUnavailable";
  }
}
