import { claimIsLive, isNodeAlive, type ClaimTimings, type NodeView } from "../pipeline/claim-rules.js";
import type { ProjectConfig } from "../config/project-config.js";
import type { Item } from "../state/item.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";

/** A snapshot of the nodes for claim decisions, read once per pass. */
export class ClaimView {
  readonly nodes: Map<string, NodeView>;
  readonly timings: ClaimTimings;

  constructor(pipeline: PipelineDoc, cfg: ProjectConfig, readonly now = Date.now()) {
    this.nodes = new Map(pipeline.listNodes().map((n) => [n.id, n]));
    this.timings = { nodeAliveMs: cfg.node_alive_secs * 1000, claimTimeoutMs: cfg.claim_timeout_secs * 1000 };
  }

  live(item: Item): boolean {
    return claimIsLive(item.claim, item.stage, item.claim ? this.nodes.get(item.claim.node) : undefined, this.now, this.timings);
  }

  alive(nodeId: string): boolean {
    return isNodeAlive(this.nodes.get(nodeId), this.now, this.timings.nodeAliveMs);
  }
}
