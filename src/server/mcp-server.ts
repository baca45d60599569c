import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Hono } from "hono";
import { VERSION } from "../version.js";
import { NODE_TOOLS } from "./mcp-node-tools.js";
import { STORY_TOOLS, type ToolContext } from "./mcp-story-tools.js";
import { registerTools, type Confirmation, type HuskiesTool } from "./mcp-tool.js";
import type { NodeInfo } from "./node-info.js";
import type { RequestGuard } from "./request-guard.js";

/** Every operator tool of a project server, in the order `tools/list` shows them. */
export const OPERATOR_TOOLS: ReadonlyArray<HuskiesTool<ToolContext>> = [...STORY_TOOLS, ...NODE_TOOLS];

/**
 * The operator's MCP server: each tool calls the same OperatorActions as REST, so both stay
 * consistent; a thrown ActionError becomes a tool error carrying its message. With `confirm` (the
 * board's assistant), destructive calls wait for a person.
 */
export function buildMcpServer(node: NodeInfo, opts: { host?: string; confirm?: (c: Confirmation) => Promise<boolean> } = {}): McpServer {
  const mcp = new McpServer({ name: "huskies", version: VERSION });
  registerTools(mcp, OPERATOR_TOOLS, { ...node, host: opts.host }, { confirm: opts.confirm });
  return mcp;
}

/**
 * `/mcp`: streamable HTTP, stateless (a fresh server per request; the document holds the state).
 * The app's guard has already checked Host, Origin, token and body size; the SDK's own
 * DNS-rebinding check runs too, from the same lists, so the endpoint stays safe if mounted elsewhere.
 */
export function mountMcp(app: Hono, node: NodeInfo, guard: RequestGuard): void {
  app.all("/mcp", async (c) => {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      ...guard.mcpProtection(c.req.header("host")),
    });
    const server = buildMcpServer(node, { host: c.req.header("host") });
    await server.connect(transport);
    const res = await transport.handleRequest(c.req.raw);
    void server.close();
    return res;
  });
}
