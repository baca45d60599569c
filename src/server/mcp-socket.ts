import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { MAX_BODY_BYTES } from "../config/defaults.js";

/** A unix socket path may be at most 107 bytes on Linux; leave room. */
const MAX_SOCKET_PATH = 100;

/** An MCP server listening on a unix socket, one server instance per connection. */
export interface McpSocket {
  path: string;
  close(): Promise<void>;
}

/**
 * A fresh socket path for one run: under the project's `.huskies/channels/` (hidden from confined
 * processes, which see only the socket they are given), or, when that path would be too long for
 * a unix socket, in a private temporary directory.
 */
export function channelSocketPath(root: string): string {
  const name = `${randomBytes(8).toString("hex")}.sock`;
  const dir = join(root, ".huskies", "channels");
  if (Buffer.byteLength(join(dir, name)) <= MAX_SOCKET_PATH) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return join(dir, name);
  }
  return join(mkdtempSync(join(tmpdir(), "huskies-ch-")), name);
}

/**
 * Serve MCP (newline-delimited JSON-RPC, the stdio framing) on a unix socket at `path`: each
 * connection gets its own server from `build`. The socket is readable and writable by its owner
 * only; it is removed on close. A connection's bad frames are its own problem: logged, never thrown.
 */
export async function serveMcpOnSocket(path: string, build: () => McpServer, log: Logger): Promise<McpSocket> {
  const open = new Set<Socket>();
  // Half-open: a client may send its requests and close its side at once (`… | socat - UNIX-CONNECT:…`);
  // the answers still go out, and the socket ends once every request has its answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.on("error", (err) => log.debug({ err: err.message }, "MCP channel connection error"));
    const mcp = build();
    const transport = new StdioServerTransport(socket, socket, { maxBufferSize: MAX_BODY_BYTES });
    transport.onerror = (err) => log.debug({ err: err.message }, "MCP channel frame refused");
    let pending = 0;
    let ended = false;
    const endIfDone = () => {
      if (ended && pending === 0 && !socket.writableEnded) socket.end();
    };
    socket.once("end", () => {
      ended = true;
      endIfDone();
    });
    socket.once("close", () => {
      open.delete(socket);
      void mcp.close().catch(() => undefined);
    });
    mcp
      .connect(transport)
      .then(() => {
        const receive = transport.onmessage;
        transport.onmessage = (msg: JSONRPCMessage) => {
          if ("method" in msg && "id" in msg) pending += 1;
          receive?.(msg);
        };
        const send = transport.send.bind(transport);
        transport.send = async (msg: JSONRPCMessage) => {
          await send(msg);
          if (!("method" in msg) && "id" in msg) {
            pending = Math.max(0, pending - 1);
            endIfDone();
          }
        };
      })
      .catch((err: Error) => {
        log.warn({ err: err.message }, "MCP channel could not start");
        socket.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
      // A private temporary directory goes with it.
      if (dirname(path).includes("huskies-ch-")) rmSync(dirname(path), { recursive: true, force: true });
    },
  };
}
