import type { Logger } from "pino";
import type { Replica } from "../state/replica.js";
import { StoreUnavailable } from "../state/replica-store.js";
import type { WriteGate } from "../server/store-guard.js";
import type { SyncHub } from "../sync/sync-hub.js";
import { isReverted } from "../util/reverted-fixes.js";

/**
 * Nothing acknowledged is overwritten (docs/architecture.md, "Faults"). A rendezvous whose
 * replica is missing, empty or damaged although its `node.key` shows it ran here before has lost
 * what it once held: an item it numbered anew would take the id of an acknowledged one still on
 * the agents, and the CRDT would keep one of the two. So it treats itself as suspect, as agents
 * already do: it takes no writes (REST and MCP answer 503 with the reason) and runs no sequencer
 * or housekeeping until it has synced with a live huskies peer, or an operator starts it with
 * `huskies serve --accept-empty`. Agents wait for their own sync in `HuskiesNode.replicaReady`.
 */
export class ReplicaFence implements WriteGate {
  private reason: string | undefined;
  private readonly waiters: Array<() => void> = [];
  private readonly off: () => void = () => undefined;

  constructor(
    private readonly replica: Replica,
    opts: { role: "rendezvous" | "agent"; acceptEmpty?: boolean; hub: SyncHub; log: Logger },
  ) {
    const suspect = replica.suspect;
    if (opts.role !== "rendezvous" || !suspect) return;
    if (opts.acceptEmpty || isReverted("empty-replica")) {
      if (opts.acceptEmpty) opts.log.warn({ reason: suspect }, "--accept-empty: taking writes on this replica as the project's state");
      replica.trust();
      return;
    }
    this.reason = suspect;
    opts.log.error(
      { reason: suspect },
      "this rendezvous lost its replica: it takes no writes until an agent that holds the project syncs with it " +
        "(if none will, start it with `huskies serve --accept-empty`)",
    );
    const onSynced = (peerId: string) => {
      if (!this.reason) return;
      this.reason = undefined;
      replica.trust();
      opts.log.info({ peer: peerId.slice(0, 12) }, "replica synced with a peer: taking writes again");
      for (const w of this.waiters.splice(0)) w();
    };
    opts.hub.on("peer-synced", onSynced);
    this.off = () => opts.hub.off("peer-synced", onSynced);
  }

  /** Why writes are refused, while they are. */
  get fenced(): string | undefined {
    return this.reason;
  }

  /** Resolves once writes are taken (at once when they already are). */
  opened(): Promise<void> {
    return this.reason ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
  }

  get writable(): boolean {
    return !this.reason && this.replica.writable;
  }

  assertWritable(): void {
    if (this.reason)
      throw new StoreUnavailable(
        `this rendezvous lost its replica (${this.reason}); it takes writes once an agent has synced with it, or after \`huskies serve --accept-empty\``,
        "not acknowledged: this rendezvous is waiting to recover its replica from an agent",
      );
    this.replica.assertWritable();
  }

  stop(): void {
    this.off();
  }
}
