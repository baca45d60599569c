import type { LogSize } from "./compaction-policy.js";
import { StoreWriteError, type ReplicaStore } from "./replica-store.js";

/**
 * A store in memory, for in-process tests of everything above the store (the replica, the
 * work loop, sync). Several `MemoryStore`s may share one `MemoryDisk` to play "restart the
 * process"; `failWrites` makes appends and compactions fail the way a locked or full disk does.
 */
export class MemoryDisk {
  snapshot: Uint8Array | undefined;
  updates: Uint8Array[] = [];
  /** While set, every write throws a `StoreWriteError` with this code. */
  failWrites: string | undefined;
  /** Writes tried (successful or not), so tests can wait for a retry instead of sleeping. */
  attempts = 0;
}

export class MemoryStore implements ReplicaStore {
  private closed = false;

  constructor(
    readonly disk = new MemoryDisk(),
    readonly suspect?: string,
  ) {}

  load(): Uint8Array[] {
    return [...(this.disk.snapshot ? [this.disk.snapshot] : []), ...this.disk.updates];
  }

  append(update: Uint8Array): void {
    this.check("append");
    this.disk.updates.push(update.slice());
  }

  compact(snapshot: Uint8Array): void {
    this.check("compact");
    this.disk.snapshot = snapshot.slice();
    this.disk.updates = [];
  }

  logSize(): LogSize {
    const { updates, snapshot } = this.disk;
    return { rows: updates.length, logBytes: updates.reduce((n, u) => n + u.byteLength, 0), snapshotBytes: snapshot?.byteLength ?? 0 };
  }

  close(): void {
    this.closed = true;
  }

  private check(what: string): void {
    this.disk.attempts += 1;
    if (this.closed) throw new StoreWriteError(`${what} failed: store closed`, "CLOSED");
    if (this.disk.failWrites) throw new StoreWriteError(`${what} failed: ${this.disk.failWrites}`, this.disk.failWrites);
  }
}
