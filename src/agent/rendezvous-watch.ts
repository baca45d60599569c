import type { PipelineDoc } from "../state/pipeline-doc.js";

/**
 * Whether the claim sequencer (the rendezvous) is reachable: linked to it directly, or seeing its
 * heartbeat arrive (through the mesh) within `autonomous_after_secs`, measured on this node's
 * own clock so clock skew between machines does not matter.
 */
export class RendezvousWatch {
  private lastHeard: number;
  private readonly lastValue = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly pipeline: PipelineDoc,
    private readonly directlyConnected: () => boolean,
    now = Date.now(),
  ) {
    this.lastHeard = now;
    this.unsubscribe = pipeline.onNodesChange((ids) => this.observe(ids));
  }

  private observe(ids: string[]): void {
    for (const id of ids) {
      const node = this.pipeline.getNode(id);
      if (!node || node.role !== "rendezvous" || !node.alive) continue;
      if (this.lastValue.get(id) !== node.lastSeen) {
        this.lastValue.set(id, node.lastSeen);
        this.lastHeard = Date.now();
      }
    }
  }

  reachable(autonomousAfterMs: number, now = Date.now()): boolean {
    if (this.directlyConnected()) {
      this.lastHeard = now;
      return true;
    }
    return now - this.lastHeard < autonomousAfterMs;
  }

  stop(): void {
    this.unsubscribe();
  }
}
