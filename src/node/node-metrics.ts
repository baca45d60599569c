import { statSync } from "node:fs";
import type { LiveConfig } from "../config/live-config.js";
import { Metrics } from "../server/metrics.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import { isPeerAlive } from "../state/claim-view.js";

/** This node's `/metrics`: gauges read from its replica and links at scrape time. */
export function nodeMetrics(o: {
  pipeline: PipelineDoc;
  config: LiveConfig;
  links: () => Record<string, number>;
  storeFile: string;
  authority?: { unverified: number; checkNs: bigint };
}): Metrics {
  return new Metrics({
    stories: () => o.pipeline.listItems(),
    nodes: () => o.pipeline.listNodes(),
    nodeAliveMs: () => o.config.project.node_alive_secs * 1000,
    nodeLive: (n) => isPeerAlive(o.pipeline, n.id, o.config.project.node_alive_secs * 1000),
    syncLinks: o.links,
    ...(o.authority
      ? { unverifiedWrites: () => o.authority!.unverified, writeCheckSeconds: () => Number(o.authority!.checkNs) / 1e9 }
      : {}),
    // The replica on disk (database and its write-ahead log): cheap to read at every scrape.
    replicaBytes: () => fileSize(o.storeFile) + fileSize(`${o.storeFile}-wal`),
  });
}

/** The replica on disk (database and write-ahead log), read at most once a second: checked on every update received. */
export function replicaSizer(file: string): () => number {
  let at = 0;
  let bytes = 0;
  return () => {
    const now = Date.now();
    if (now - at >= 1000) {
      at = now;
      bytes = fileSize(file) + fileSize(`${file}-wal`);
    }
    return bytes;
  };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
