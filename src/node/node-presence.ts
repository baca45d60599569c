import type { Logger } from "pino";
import type { LiveConfig } from "../config/live-config.js";
import type { NodeEntry } from "../state/item.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import { guarded } from "../util/coalesce.js";
import type { TimerHandle } from "../util/clock.js";

/**
 * This node's own entry in `nodes` (the only entry it writes): a heartbeat every
 * `scan_interval_secs`, and at once when what it advertises changes (capacity, pause, address).
 */
export class NodePresence {
  private stopTimer: () => void = () => undefined;
  private readonly onConfig = () => {
    this.restartTimer();
    this.beat();
  };

  constructor(
    private readonly pipeline: PipelineDoc,
    private readonly nodeId: string,
    private readonly config: LiveConfig,
    /** What the entry says besides liveness; read at every beat. */
    private readonly describe: () => Omit<NodeEntry, "id" | "lastSeen" | "alive">,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.beat();
    this.restartTimer();
    this.config.on("change", this.onConfig);
  }

  /** `lastSeen` is this node's wall clock: readers only use it to tell a new heartbeat from an old one. */
  beat(now = this.pipeline.clock.now()): void {
    if (this.pipeline.readOnly) return; // a document of a newer schema: not ours to write (SchemaGuard)
    this.pipeline.setOwnNode(this.nodeId, { ...this.describe(), lastSeen: now, alive: true });
  }

  private restartTimer(): void {
    this.stopTimer();
    const clock = this.pipeline.clock;
    const timer: TimerHandle = clock.setInterval(
      () => guarded(this.log, "heartbeat", () => this.beat()),
      this.config.project.scan_interval_secs * 1000,
    );
    this.stopTimer = () => clock.clearInterval(timer);
  }

  /** A clean shutdown: the node says it is gone, so its claims stop binding at once. */
  stop(): void {
    this.stopTimer();
    this.config.off("change", this.onConfig);
    if (this.pipeline.readOnly) return;
    this.pipeline.setOwnNode(this.nodeId, { alive: false, lastSeen: this.pipeline.clock.now() });
  }
}
