import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { logger } from "../log.js";

/** Client mistakes keep their 4xx; anything else is a bug: logged with its stack, answered 500 without details. */
export function errorResponse(err: Error, c: Context): Response {
  if (err instanceof HTTPException) return err.getResponse();
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500) return c.json({ error: err.message }, status as 400);
  logger("http").error({ err, method: c.req.method, path: new URL(c.req.url).pathname }, "request failed");
  return c.json({ error: "internal error" }, 500);
}
