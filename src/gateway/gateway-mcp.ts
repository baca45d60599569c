import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Hono } from "hono";
import { z } from "zod";
import { VERSION } from "../version.js";
import { OPERATOR_TOOLS } from "../server/mcp-server.js";
import { toolText } from "../server/mcp-tool.js";
import type { RequestGuard } from "../server/request-guard.js";
import type { ProjectOverview } from "./overview.js";
import type { ProjectClient } from "./project-client.js";

export interface GatewayMcpDeps {
  projects: ReadonlyMap<string, ProjectClient>;
  overviews(): Promise<ProjectOverview[]>;
}

/**
 * The gateway's MCP server: every operator tool of a project server, each with a `project`
 * argument, forwarded to that project's `/mcp` with its admin token over the pinned connection
 * (`ProjectClient.callTool`); plus `list_projects` and `aggregate_status`. Arguments are
 * validated here with the project tools' own schemas before anything is sent. The server is
 * stateless, so there is no "current project" (the original's `switch_project`): a gateway
 * fronting one project lets `project` be left out.
 */
export function buildGatewayMcp(deps: GatewayMcpDeps): McpServer {
  const mcp = new McpServer({ name: "huskies-gateway", version: VERSION });
  const names = () => [...deps.projects.keys()];
  const projectArg = z
    .string()
    .max(100)
    .optional()
    .describe(`the project to act on: ${names().join(", ") || "(none configured)"}; may be left out when the gateway fronts one`);
  const clientFor = (name: string | undefined): ProjectClient => {
    const all = names();
    const chosen = name ?? (all.length === 1 ? all[0] : undefined);
    const client = chosen === undefined ? undefined : deps.projects.get(chosen);
    if (!client)
      throw new Error(`${name === undefined ? "say which project: " : `unknown project ${name}; `}one of ${all.join(", ") || "(none)"}`);
    return client;
  };

  for (const t of OPERATOR_TOOLS) {
    mcp.registerTool(
      t.name,
      { description: `${t.description} (in the project named by \`project\`)`, inputSchema: { project: projectArg, ...t.input } },
      async (args: Record<string, unknown>) => {
        const { project, ...rest } = args;
        return clientFor(project as string | undefined).callTool(t.name, rest);
      },
    );
  }
  mcp.registerTool(
    "list_projects",
    { description: "The projects this gateway fronts, and whether each answers.", inputSchema: {} },
    async () => {
      const overviews = await deps.overviews();
      return toolText(overviews.map((o) => ({ name: o.name, url: o.url, reachable: o.reachable, error: o.error })));
    },
  );
  mcp.registerTool(
    "aggregate_status",
    { description: "Every project at once: stage counts, blocked and running stories, agents.", inputSchema: {} },
    async () => toolText({ at: Date.now(), projects: await deps.overviews() }),
  );
  return mcp;
}

/** `/mcp` on the gateway: streamable HTTP, stateless, behind the gateway's guard (its admin token off loopback). */
export function mountGatewayMcp(app: Hono, deps: GatewayMcpDeps, guard: RequestGuard): void {
  app.all("/mcp", async (c) => {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      ...guard.mcpProtection(c.req.header("host")),
    });
    const server = buildGatewayMcp(deps);
    await server.connect(transport);
    const res = await transport.handleRequest(c.req.raw);
    void server.close();
    return res;
  });
}
