import { HuskiesNode, type NodeOptions } from "../node/huskies-node.js";
import { logger } from "../log.js";

/**
 * Start a node and keep it until SIGINT/SIGTERM, then shut it down cleanly and exit 0. A
 * permanent failure (the pinned rendezvous is not the server it reached) is one `error:` line on
 * stderr and exit 1.
 */
export async function runNodeUntilSignal(opts: NodeOptions): Promise<HuskiesNode> {
  const log = logger("cli");
  let stopping = false;
  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    node.close().then(
      () => process.exit(code),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  const node: HuskiesNode = new HuskiesNode({
    ...opts,
    onFatal: (err) => {
      process.stderr.write(`error: ${err.message}\n`);
      stop("fatal", err.exitCode);
    },
  });
  await node.start();
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return node;
}
