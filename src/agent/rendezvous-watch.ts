import type { PipelineDoc } from "../state/pipeline-doc.js";

/**
 * Whether the claim sequencer (the rendezvous) is reachable: linked to it directly, or its
 * heartbeat received (through the mesh) within `autonomous_after_secs`. Both measured on this
 * node's monotonic clock (heartbeat receipts, see `PeerReceipts`), so clock skew between machines
 * does not matter. A node that just started gives the rendezvous that long to show up.
 */
export class RendezvousWatch {
  private lastHeard: number;

  constructor(
    private readonly pipeline: PipelineDoc,
    private readonly directlyConnected: () => boolean,
    now = pipeline.clock.monotonic(),
  ) {
    this.lastHeard = now;
  }

  reachable(autonomousAfterMs: number, now = this.pipeline.clock.monotonic()): boolean {
    if (this.directlyConnected()) {
      this.lastHeard = now;
      return true;
    }
    for (const node of this.pipeline.nodeIndex().values()) {
      if (node.role !== "rendezvous" || !node.alive) continue;
      const heard = this.pipeline.receipts.lastReceipt(node.id);
      if (heard !== undefined && heard > this.lastHeard) this.lastHeard = heard;
    }
    return now - this.lastHeard < autonomousAfterMs;
  }

  stop(): void {
    // Nothing to undo: receipts are kept by the document.
  }
}
