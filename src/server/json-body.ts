import type { Context } from "hono";
import { ActionError } from "./operator-actions.js";

/**
 * The JSON object a write carries. The guard has already checked the content type and the size;
 * here `null`, arrays, numbers and broken JSON become a 400 instead of reaching an action.
 */
export async function jsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ActionError(400, `invalid JSON body: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ActionError(400, "the body must be a JSON object");
  return value as Record<string, unknown>;
}
