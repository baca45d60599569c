import { once } from "node:events";
import WebSocket, { WebSocketServer } from "ws";
import { describe } from "vitest";
import { memoryPair } from "../../src/sync/memory-transport.js";
import type { SyncTransportSetup, TransportPair } from "./sync-kit.js";
import { runSyncTransportTests } from "./sync-transport.js";

/** The in-memory pair: the protocol without sockets. */
function memorySetup(): SyncTransportSetup {
  return {
    name: "memory",
    async pair({ maxFrameBytes, connectorMaxFrameBytes }) {
      const [acceptor, connector] = memoryPair({ maxPayload: maxFrameBytes }, { maxPayload: connectorMaxFrameBytes ?? maxFrameBytes });
      return { acceptor, connector };
    },
    async teardown() {},
  };
}

/** Real `ws` sockets on 127.0.0.1, one listening server per pair (its maxPayload is the acceptor's limit). */
function wsSetup(): SyncTransportSetup {
  const servers: WebSocketServer[] = [];
  const sockets: WebSocket[] = [];
  return {
    name: "ws",
    async pair({ maxFrameBytes, connectorMaxFrameBytes }): Promise<TransportPair> {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: maxFrameBytes });
      servers.push(wss);
      await once(wss, "listening");
      const port = (wss.address() as { port: number }).port;
      const accepted = once(wss, "connection") as Promise<[WebSocket]>;
      const connector = new WebSocket(`ws://127.0.0.1:${port}/crdt-sync`, { maxPayload: connectorMaxFrameBytes ?? maxFrameBytes });
      connector.binaryType = "nodebuffer";
      sockets.push(connector);
      const [[acceptor]] = await Promise.all([accepted, once(connector, "open")]);
      sockets.push(acceptor);
      return { acceptor, connector };
    },
    async teardown() {
      for (const s of sockets.splice(0)) s.terminate();
      await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

describe("in-memory transport", () => runSyncTransportTests(memorySetup));
describe("ws on 127.0.0.1", () => runSyncTransportTests(wsSetup));
