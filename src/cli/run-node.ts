import { HuskiesNode, type NodeOptions } from "../node/huskies-node.js";
import { logger } from "../log.js";

/** Start a node and keep it until SIGINT/SIGTERM, then shut it down cleanly and exit 0. */
export async function runNodeUntilSignal(opts: NodeOptions): Promise<HuskiesNode> {
  const node = await new HuskiesNode(opts).start();
  const log = logger("cli");
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    node.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return node;
}
