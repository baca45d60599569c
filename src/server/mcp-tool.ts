import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { z } from "zod";

/**
 * One MCP tool of huskies as data: its name, what it says to a model, its input (a zod shape,
 * validated by the SDK before `run`), and what it does given a context. The same definitions
 * serve the rendezvous' `/mcp`, the board's assistant (with confirmations) and the gateway (which
 * adds a `project` argument and forwards), so the three cannot drift apart.
 */
export interface HuskiesTool<C, S extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  description: string;
  input: S;
  /**
   * Why this call needs a person's click when an assistant makes it (delete, purge, revoke, a
   * move out of `done`); undefined when it does not. Asked before `run`.
   */
  destructive?: (args: z.infer<z.ZodObject<S>>, ctx: C) => string | undefined;
  /** A string is answered as text; anything else as pretty JSON. A throw is a tool error. */
  run(ctx: C, args: z.infer<z.ZodObject<S>>): unknown;
}

/** Typed at the definition, erased in the list. */
export function tool<C, S extends z.ZodRawShape>(t: HuskiesTool<C, S>): HuskiesTool<C> {
  return t as unknown as HuskiesTool<C>;
}

/** A destructive call the person declined (or did not answer in time). */
export interface Confirmation {
  tool: string;
  args: Record<string, unknown>;
  why: string;
}

export function toolText(value: unknown): { content: Array<{ type: "text"; text: string }> } {
  return { content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) }] };
}

/**
 * Register `tools` on `mcp`, each run with `ctx`. With `confirm`, a destructive call waits for it
 * and is refused (a tool error) unless it resolves true. Errors thrown by `run` become tool errors
 * (the SDK's own behaviour); nothing a caller sends can crash the server.
 */
export function registerTools<C>(
  mcp: McpServer,
  tools: ReadonlyArray<HuskiesTool<C>>,
  ctx: C,
  opts: { confirm?: (c: Confirmation) => Promise<boolean> } = {},
): void {
  for (const t of tools) {
    mcp.registerTool(t.name, { description: t.description, inputSchema: t.input }, async (args: Record<string, unknown>) => {
      const why = opts.confirm && t.destructive?.(args as never, ctx);
      if (why && !(await opts.confirm!({ tool: t.name, args, why })))
        throw new Error(`${t.name} was not confirmed: the person declined (or did not answer) "${why}"`);
      return toolText(await t.run(ctx, args as never));
    });
  }
}
