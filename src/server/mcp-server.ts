import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Hono } from "hono";
import { z } from "zod";
import { ITEM_TYPES } from "../pipeline/item-id.js";
import { parseCriteria } from "../pipeline/story-markdown.js";
import { VERSION } from "../version.js";
import type { NodeInfo } from "./node-info.js";
import type { RequestGuard } from "./request-guard.js";

const idArg = z.string().describe("item id, e.g. 42_story_add_login");
const touchesArg = z
  .array(z.string())
  .optional()
  .describe('paths or globs the story means to touch, e.g. ["src/api/**"]: grants avoid running overlapping stories at once ([] clears)');

function json(value: unknown) {
  return { content: [{ type: "text" as const, text: JSON.stringify(value, null, 2) }] };
}

/**
 * The MCP tools. Each calls the same OperatorActions as REST, so both stay consistent; a thrown
 * ActionError becomes an MCP tool error carrying its message.
 */
export function buildMcpServer(node: NodeInfo): McpServer {
  const a = node.actions;
  const mcp = new McpServer({ name: "huskies", version: VERSION });
  mcp.registerTool(
    "create_story",
    {
      description: "File a new work item. Returns it with its id.",
      inputSchema: {
        name: z.string().min(1).max(200).describe("short name; the id's slug is made from it"),
        type: z.enum(ITEM_TYPES).default("story"),
        user_story: z.string().max(100_000).optional().describe("As a …, I want …, so that …"),
        acceptance_criteria: z.array(z.string().min(1)).max(100).optional(),
        stage: z.string().default("backlog").describe("backlog, current, qa, merge, done or archived"),
        touches: touchesArg,
      },
    },
    async (args) =>
      json(
        a.create({
          name: args.name,
          type: args.type,
          body: args.user_story,
          criteria: args.acceptance_criteria,
          stage: args.stage,
          touches: args.touches,
        }),
      ),
  );
  mcp.registerTool("get_pipeline_status", { description: "Every stage with its items, and the nodes." }, async () => json(a.view()));
  mcp.registerTool(
    "get_merge_queue",
    {
      description:
        "The merge queue in order: each story's position, step (rebasing, gates, pushing, conflict round n, or why it waits) and the node merging it.",
    },
    async () => json(a.mergeQueue()),
  );
  mcp.registerTool(
    "show_story",
    { description: "One item with its markdown and criteria.", inputSchema: { id: idArg } },
    async ({ id }) => {
      const item = a.get(id);
      return json({ ...item, criteria: parseCriteria(item.body) });
    },
  );
  mcp.registerTool(
    "update_story",
    {
      description: "Change an item's name, body (markdown), dependencies or the paths it means to touch.",
      inputSchema: {
        id: idArg,
        name: z.string().min(1).max(200).optional(),
        body: z.string().max(100_000).optional(),
        depends_on: z.array(z.string()).optional(),
        touches: touchesArg,
      },
    },
    async ({ id, name, body, depends_on, touches }) => json(a.update(id, { name, body, dependsOn: depends_on, touches })),
  );
  mcp.registerTool(
    "move_story",
    {
      description: "Move an item to another stage (the transition rules apply).",
      inputSchema: { id: idArg, stage: z.string(), reason: z.string().optional() },
    },
    async ({ id, stage, reason }) => json(await a.move(id, stage, reason)),
  );
  mcp.registerTool(
    "tick_criterion",
    {
      description: "Tick (or untick) an acceptance criterion, by 0-based index.",
      inputSchema: { id: idArg, index: z.number().int().min(0), done: z.boolean().default(true) },
    },
    async ({ id, index, done }) => json(a.tick(id, index, done)),
  );
  mcp.registerTool(
    "approve_story",
    {
      description: "Human QA: pass an item that waits in qa on to merge (its branch must have commits ahead of the base).",
      inputSchema: { id: idArg },
    },
    async ({ id }) => json(await a.approve(id)),
  );
  mcp.registerTool(
    "reject_story",
    {
      description:
        "Human QA: send an item in qa back to current with the reason, and optionally comments on lines of its diff; the coder's next prompt lists them by file and line.",
      inputSchema: {
        id: idArg,
        reason: z.string().max(10_000).optional().describe("what is wrong, overall"),
        comments: z
          .array(
            z.object({
              file: z.string().describe("path in the repository, as the diff names it"),
              line: z.number().int().min(1).describe("line number in the new version of the file"),
              text: z.string().min(1),
            }),
          )
          .max(100)
          .optional(),
      },
    },
    async ({ id, reason, comments }) => json(a.reject(id, { reason, comments })),
  );
  mcp.registerTool(
    "pause_node",
    {
      description: "Pause a node: it finishes nothing new and keeps its worktrees until resumed.",
      inputSchema: { node: z.string().describe("node id, unique id prefix, or label"), reason: z.string().max(300).optional() },
    },
    async ({ node, reason }) => json(a.pauseNode(node, reason)),
  );
  mcp.registerTool(
    "resume_node",
    {
      description: "Resume a paused node.",
      inputSchema: { node: z.string().describe("node id, unique id prefix, or label") },
    },
    async ({ node }) => json(a.resumeNode(node)),
  );
  mcp.registerTool("list_nodes", { description: "Nodes with liveness, capacity and pause state (reason, until)." }, async () =>
    json(a.view().nodes),
  );
  mcp.registerTool("list_agents", { description: "This server's agent slots and the runs they did." }, async () =>
    json({
      slots: node
        .slots()
        .map((s) => ({ name: s.slot.name, role: s.slot.role, runtime: s.slot.runtime, status: s.status, story: s.storyId })),
      runs: node.runs(),
    }),
  );
  mcp.registerTool(
    "get_story_log",
    {
      description: "The agent output logged for an item (JSON lines).",
      inputSchema: { id: idArg, tail: z.number().int().min(1).max(5000).default(200) },
    },
    async ({ id, tail }) => {
      a.get(id);
      const text = (await node.logs.read(id)) ?? "";
      return { content: [{ type: "text" as const, text: text.split("\n").filter(Boolean).slice(-tail).join("\n") || "(no log yet)" }] };
    },
  );
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
    const server = buildMcpServer(node);
    await server.connect(transport);
    const res = await transport.handleRequest(c.req.raw);
    void server.close();
    return res;
  });
}
