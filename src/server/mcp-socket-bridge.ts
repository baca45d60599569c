import { connect } from "node:net";

/**
 * `node mcp-socket-bridge.js SOCKET`: a stdio MCP server for a runtime's config (claude's
 * `--mcp-config`) that is only a pipe to the story's unix socket, where huskies answers. It holds
 * no state and no credentials: which story the calls concern is decided by the socket it was given.
 */
const path = process.argv[2];
if (!path) {
  process.stderr.write("usage: mcp-socket-bridge SOCKET\n");
  process.exit(2);
}
const socket = connect(path);
socket.on("error", (err) => {
  process.stderr.write(`huskies MCP channel ${path}: ${err.message}\n`);
  process.exit(1);
});
process.stdin.pipe(socket);
socket.pipe(process.stdout);
socket.on("close", () => process.exit(0));
