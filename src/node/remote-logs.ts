import type { RemoteLogs } from "../runtime/story-log.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import type { LogRelay } from "../sync/log-relay.js";
import type { SyncHub } from "../sync/sync-hub.js";

/**
 * Logs this node does not hold: asked for from the node that ran the story (`logNode`), by its
 * node id, over the sync link to it (the log relay). Never a URL found in the document.
 */
export function relayedLogs(pipeline: PipelineDoc, selfId: string, hub: () => SyncHub, relay: () => LogRelay): RemoteLogs {
  const holder = (id: string) => {
    const n = pipeline.getItem(id)?.logNode;
    return n && n !== selfId ? n : undefined;
  };
  return {
    fetch: async (id) => {
      const h = holder(id);
      return h ? relay().fetch(h, id) : undefined;
    },
    follow: (id, onLine, onEnd) => {
      const h = holder(id);
      return h && hub().linkTo(h) ? relay().follow(h, id, onLine, onEnd) : undefined;
    },
  };
}
