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

/** Coding-agent runtimes: Claude Code, OpenAI's Codex CLI, Google's Gemini CLI, or any command. */
export const RUNTIMES = ["claude-code", "codex", "gemini", "command"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

const accountName = z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "must be 1-40 letters, digits, _ . -");

/** Prices in USD per million tokens (input, output, and cached input when the runtime reports it). */
const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cached_input: z.number().min(0).optional(),
});
export type Price = z.infer<typeof priceSchema>;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
  .refine((n) => !n.startsWith("HUSKIES_"), "huskies' own variables are never passed to agents");

/** One `[[agent]]` entry of `.huskies/agents.toml`: one slot. */
export const agentSlotSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "must be 1-40 letters, digits, _ . -"),
    role: z.enum(ROLES).default("coder"),
    runtime: z.enum(RUNTIMES).default("claude-code"),
    /** Default: the runtime's own (`claude-sonnet-4-5` for claude-code; codex and gemini: see `DEFAULT_MODELS`). */
    model: z.string().optional(),
    max_turns: z.number().int().positive().default(50),
    max_budget_usd: z.number().positive().optional(),
    allowed_tools: z.array(z.string()).default(["Bash", "Read", "Write", "Edit", "Glob", "Grep"]),
    prompt: z.string().optional(),
    system_prompt: z.string().optional(),
    /** Path of the `claude` executable; default: PATH, then the installed npm package. */
    claude_path: z.string().optional(),
    /** Path of the `codex` or `gemini` executable; default: found on PATH. */
    path: z.string().optional(),
    /** USD per million tokens, to turn codex's and gemini's token counts into cost (budgets). */
    price: priceSchema.optional(),
    /** The account this slot works with, or accounts in fallback order (see `[[account]]`). */
    account: accountName.optional(),
    accounts: z.array(accountName).min(1).optional(),
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
    if (s.account !== undefined && s.accounts !== undefined)
      ctx.addIssue({ code: "custom", message: `slot \`${s.name}\`: give \`account\` or \`accounts\`, not both`, path: ["accounts"] });
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

/**
 * One `[[account]]`: a vendor login or key shared by slots on any number of nodes. A usage limit
 * or credential failure seen on one node pauses the account's slots on every node (the ledger).
 */
export const accountSchema = z.strictObject({
  name: accountName,
  runtime: z.enum(["claude-code", "codex", "gemini"]),
  /** Names of the variables (in each node's environment) that hold this account's credentials. */
  env: z.array(envName).default([]),
  /** The model to ask for with this account (a fallback slot may switch vendors). Default: the slot's. */
  model: z.string().optional(),
  /** Spend cap per day (the project's `timezone`) across every node: no new story once reached. */
  daily_budget_usd: z.number().positive().optional(),
  price: priceSchema.optional(),
});
export type Account = z.infer<typeof accountSchema>;

/**
 * `[assistant]`: the runtime of the board's chat assistant, a slot of its own (never given
 * stories). Any slot field applies; unset, it is claude-code with read-only file tools.
 */
export const ASSISTANT_DEFAULTS = { name: "assistant", allowed_tools: ["Read", "Glob", "Grep"], max_turns: 20 };
const assistantSchema = z.preprocess(
  (v) => (v && typeof v === "object" && !Array.isArray(v) ? { ...ASSISTANT_DEFAULTS, ...v } : v),
  agentSlotSchema,
);

/** The assistant slot of a config: its `[assistant]` table, or the defaults. */
export function assistantSlot(agents: AgentsConfig): AgentSlot {
  return agents.assistant ?? agentSlotSchema.parse(ASSISTANT_DEFAULTS);
}

export const agentsSchema = z
  .strictObject({
    agent: z.array(agentSlotSchema).default([]),
    account: z.array(accountSchema).default([]),
    assistant: assistantSchema.optional(),
  })
  .refine((a) => new Set(a.agent.map((s) => s.name)).size === a.agent.length, { message: "slot names must be unique", path: ["agent"] })
  .refine((a) => new Set(a.account.map((s) => s.name)).size === a.account.length, {
    message: "account names must be unique",
    path: ["account"],
  })
  .superRefine((a, ctx) => {
    const known = new Set(a.account.map((x) => x.name));
    a.agent.forEach((slot, i) => {
      const names = slot.accounts ?? (slot.account ? [slot.account] : []);
      for (const n of names)
        if (!known.has(n))
          ctx.addIssue({
            code: "custom",
            path: ["agent", i, slot.accounts ? "accounts" : "account"],
            message: `slot \`${slot.name}\`: no [[account]] named \`${n}\``,
          });
      if (names.length && slot.runtime === "command")
        ctx.addIssue({ code: "custom", path: ["agent", i, "runtime"], message: `slot \`${slot.name}\`: a command slot has no account` });
    });
  });

export type AgentsConfig = z.infer<typeof agentsSchema>;

export function agentsConfigPath(root: string): string {
  return join(root, ".huskies", "agents.toml");
}

export function loadAgentsConfig(root: string): AgentsConfig {
  return loadTomlFile(agentsConfigPath(root), agentsSchema, true);
}
