import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { SyncPolicy } from "../trust/auth-policy.js";
import { SyncConnection } from "./sync-connection.js";
import { channelBinding } from "../trust/handshake.js";
import { isLoopbackAddress } from "../trust/plaintext.js";
import type { SyncHub } from "./sync-hub.js";

export const SYNC_PATH = "/crdt-sync";

/** An http or https server (anything that emits `upgrade`). */
export interface UpgradeSource {
  on(event: "upgrade", listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
}

/**
 * Serve `/crdt-sync` on an HTTP(S) server. `maxPayload` makes ws close oversized frames with 1009
 * before they are buffered; everything else about a bad peer is handled per connection.
 * `?token=` is only looked at by a rendezvous policy (agents take no bearer).
 */
export function attachSyncServer(
  http: UpgradeSource,
  hub: SyncHub,
  opts: {
    policy: SyncPolicy;
    maxFrameBytes: number;
    /** How long a peer has to finish the handshake (`handshake_timeout_secs`); read per connection. */
    handshakeMs?: () => number;
    /** `allow_plaintext`: huskies peers may sync over plain ws:// from other hosts. */
    allowPlaintext?: () => boolean;
    /** The HTTP request guard's Host/Origin check (src/server/request-guard.ts): a reason refuses the upgrade with 403. */
    checkUpgrade?: (req: IncomingMessage) => string | undefined;
  },
): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes });
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = opts.checkUpgrade?.(req);
    if (refused) {
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(refused)}\r\n\r\n${refused}`,
      );
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== SYNC_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const gate = opts.policy.gate(url.searchParams.get("token"));
      const tls = !!(req.socket as { encrypted?: boolean }).encrypted;
      const refusePeer = () =>
        !tls && !isLoopbackAddress(req.socket.remoteAddress) && !opts.allowPlaintext?.()
          ? "plain ws:// from another host is refused (use wss://, or allow_plaintext = true on a private network)"
          : undefined;
      new SyncConnection(
        ws,
        hub,
        { kind: "accept", gate, identity: opts.policy.identity, binding: () => channelBinding(req.socket), refusePeer },
        { maxFrameBytes: opts.maxFrameBytes, handshakeMs: opts.handshakeMs?.() },
      );
    });
  });
  return wss;
}
