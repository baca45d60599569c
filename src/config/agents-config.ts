import { join } from "node:path";
import { z } from "zod";
import { loadTomlFile } from "./project-config.js";

import { ROLES } from "../pipeline/roles.js";

/** One `[[agent]]` entry of `.huskies/agents.toml`: one slot. */
export const agentSlotSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "must be 1-40 letters, digits, _ . -"),
  role: z.enum(ROLES).default("coder"),
  runtime: z.enum(["claude-code", "command"]).default("claude-code"),
  model: z.string().default("claude-sonnet-4-5"),
  max_turns: z.number().int().positive().default(50),
  max_budget_usd: z.number().positive().optional(),
  allowed_tools: z.array(z.string()).default(["Bash", "Read", "Write", "Edit", "Glob", "Grep"]),
  prompt: z.string().optional(),
  system_prompt: z.string().optional(),
  /** Path of the `claude` executable; default: PATH, then the installed npm package. */
  claude_path: z.string().optional(),
  command: z.string().optional(),
  args: z.array(z.string()).default([]),
}).refine((s) => s.runtime !== "command" || !!s.command, { message: "runtime \"command\" needs `command`", path: ["command"] });

export type AgentSlot = z.infer<typeof agentSlotSchema>;

export const agentsSchema = z.strictObject({ agent: z.array(agentSlotSchema).default([]) })
  .refine((a) => new Set(a.agent.map((s) => s.name)).size === a.agent.length, { message: "slot names must be unique", path: ["agent"] });

export type AgentsConfig = z.infer<typeof agentsSchema>;

export function agentsConfigPath(root: string): string {
  return join(root, ".huskies", "agents.toml");
}

export function loadAgentsConfig(root: string): AgentsConfig {
  return loadTomlFile(agentsConfigPath(root), agentsSchema, true);
}
