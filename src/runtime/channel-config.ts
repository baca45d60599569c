import { fileURLToPath } from "node:url";

/** The stdio ↔ unix-socket bridge a runtime starts as its MCP server (src/server/mcp-socket-bridge.ts). */
export const SOCKET_BRIDGE = fileURLToPath(new URL("../server/mcp-socket-bridge.js", import.meta.url));

/** The permission rule that allows every tool of huskies' MCP server (`mcp__huskies__tick_criterion`, …). */
export const HUSKIES_MCP_TOOLS = "mcp__huskies";

/**
 * In claude's environment with a channel: connect the MCP servers before the first model request
 * (claude 2.1 may otherwise send it while they connect, and the model cannot call them yet).
 */
export const CHANNEL_ENV = { MCP_CONNECTION_NONBLOCKING: "0" };

/**
 * claude's `--mcp-config` for a channel: one stdio server, `huskies`, that is only a pipe to the
 * unix socket where huskies answers. `timeoutMs` bounds one tool call (a confirmation a person
 * must click waits that long).
 */
export function channelMcpConfig(socket: string, timeoutMs?: number): string {
  return JSON.stringify({
    mcpServers: {
      huskies: { type: "stdio", command: process.execPath, args: [SOCKET_BRIDGE, socket], ...(timeoutMs ? { timeout: timeoutMs } : {}) },
    },
  });
}
