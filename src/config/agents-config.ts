import { join } from "node:path";
import { z } from "zod";
import { loadTomlFile } from "./project-config.js";

import { ROLES } from "../pipeline/roles.js";

/**
 * The only template keys a `command` slot may use in `command`/`args`: values huskies makes and
 * validates. The story text reaches a command agent through `$HUSKIES_PROMPT_FILE`, never on its
 * command line, where any `sh -c`, `bash -lc`, `env sh -c` or `python3 -c` would run it.
 */
export const COMMAND_TEMPLATE_KEYS = ["story_id", "worktree_path", "base_branch", "prompt_file"] as const;

export { SANDBOX_MODES, type SandboxMode } from "./project-config.js";
import { SANDBOX_MODES } from "./project-config.js";

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
  .refine((n) => !n.startsWith("HUSKIES_"), "huskies' own variables are never passed to agents");

/** One `[[agent]]` entry of `.huskies/agents.toml`: one slot. */
export const agentSlotSchema = z
  .strictObject({
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
    /** Every runtime; unset means `auto`. */
    sandbox: z.enum(SANDBOX_MODES).optional(),
    /** Names of extra variables of the node's environment to pass to this slot's agent. */
    env: z.array(envName).default([]),
  })
  .superRefine((s, ctx) => {
    if (s.runtime === "command" && !s.command)
      ctx.addIssue({ code: "custom", message: 'runtime "command" needs `command`', path: ["command"] });
    if (s.runtime !== "command") return;
    const fields: Array<[string[], string | undefined]> = [
      [["command"], s.command],
      ...s.args.map((a, i): [string[], string] => [["args", String(i)], a]),
    ];
    for (const [path, text] of fields) {
      const bad = unsafeTemplateKeys(text ?? "");
      if (bad.length) {
        ctx.addIssue({
          code: "custom",
          path,
          message:
            `slot \`${s.name}\`: ${bad.map((k) => `{{${k}}}`).join(", ")} would put story text on a command line; ` +
            `only ${COMMAND_TEMPLATE_KEYS.map((k) => `{{${k}}}`).join(", ")} may appear in command/args (read the story from $HUSKIES_PROMPT_FILE)`,
        });
      }
    }
  });

/** Template keys in `text` that a command slot may not use. */
export function unsafeTemplateKeys(text: string): string[] {
  const keys = [...text.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)].map((m) => m[1]!);
  return [...new Set(keys.filter((k) => !(COMMAND_TEMPLATE_KEYS as readonly string[]).includes(k)))];
}

export type AgentSlot = z.infer<typeof agentSlotSchema>;

export const agentsSchema = z
  .strictObject({ agent: z.array(agentSlotSchema).default([]) })
  .refine((a) => new Set(a.agent.map((s) => s.name)).size === a.agent.length, { message: "slot names must be unique", path: ["agent"] });

export type AgentsConfig = z.infer<typeof agentsSchema>;

export function agentsConfigPath(root: string): string {
  return join(root, ".huskies", "agents.toml");
}

export function loadAgentsConfig(root: string): AgentsConfig {
  return loadTomlFile(agentsConfigPath(root), agentsSchema, true);
}
