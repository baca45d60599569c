import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { gatekeeper, type AuthPolicy } from "./auth-policy.js";
import { SyncConnection } from "./sync-connection.js";
import type { SyncHub } from "./sync-hub.js";

export const SYNC_PATH = "/crdt-sync";

/**
 * Serve `/crdt-sync` on an HTTP server. `maxPayload` makes ws close oversized frames with 1009
 * before they are buffered; everything else about a bad peer is handled per connection.
 */
export function attachSyncServer(http: Server, hub: SyncHub, opts: { policy: AuthPolicy; selfId: string; maxFrameBytes: number }): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes });
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== SYNC_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const gate = gatekeeper(opts.policy, url.searchParams.get("token"));
      new SyncConnection(ws, hub, { kind: "accept", gate, selfId: opts.selfId });
    });
  });
  return wss;
}
