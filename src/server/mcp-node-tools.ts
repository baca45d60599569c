import { z } from "zod";
import { MAX_TOKEN_TTL_SECS, JOIN_TOKEN_TTL_SECS } from "../config/defaults.js";
import { tool, type HuskiesTool } from "./mcp-tool.js";
import type { ToolContext } from "./mcp-story-tools.js";

const nodeArg = z.string().min(1).max(200).describe("node id, unique id prefix (6+), or label");

/** Nodes, slots, config and joining. */
export const NODE_TOOLS: ReadonlyArray<HuskiesTool<ToolContext>> = [
  tool({
    name: "list_nodes",
    description: "Nodes with liveness, capacity, release and pause state (reason, until).",
    input: {},
    run: (c) => c.actions.view().nodes,
  }),
  tool({
    name: "pause_node",
    description: "Pause a node: it takes no new work, finishes what runs and keeps its worktrees until resumed.",
    input: { node: nodeArg, reason: z.string().max(300).optional() },
    run: (c, a) => c.actions.pauseNode(a.node, a.reason),
  }),
  tool({
    name: "resume_node",
    description: "Resume a paused node.",
    input: { node: nodeArg },
    run: (c, a) => c.actions.resumeNode(a.node),
  }),
  tool({
    name: "revoke_node",
    description: "Revoke a node's key: every node closes its links and refuses it from then on.",
    input: { node: nodeArg },
    destructive: (a) => `revoke node ${a.node}`,
    run: (c, a) => c.actions.revokeNode(a.node),
  }),
  tool({
    name: "list_agents",
    description: "This server's agent slots and the runs they did.",
    input: {},
    run: (c) => ({
      slots: c.slots().map((s) => ({ name: s.slot.name, role: s.slot.role, runtime: s.slot.runtime, status: s.status, story: s.storyId })),
      runs: c.runs(),
    }),
  }),
  tool({
    name: "reload_agent_config",
    description: "Read .huskies/project.toml and agents.toml again now; an invalid file is reported and changes nothing.",
    input: {},
    run: (c) => c.actions.reloadConfig(),
  }),
  tool({
    name: "create_join_string",
    description: "A one-time join string for a new build agent (`huskies agent --join JOIN`).",
    input: { ttl_secs: z.number().int().positive().max(MAX_TOKEN_TTL_SECS).default(JOIN_TOKEN_TTL_SECS) },
    // A credential: an assistant steered by a story's text could copy it into that story for its author.
    destructive: () => "mint a join string (it admits a new node to this project)",
    run: (c, a) => c.actions.createJoin(a.ttl_secs, c.host),
  }),
];
