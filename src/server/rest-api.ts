import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { ActionError, type OperatorActions } from "./operator-actions.js";
import type { JoinTokenStore } from "../sync/join-tokens.js";
import type { StoryLogs } from "../runtime/story-log.js";
import { JOIN_TOKEN_TTL_SECS } from "../config/defaults.js";

/** REST under `/api`. Bodies are JSON; errors are `{error}` with a 4xx status. */
export function restApi(actions: OperatorActions, deps: { tokens?: JoinTokenStore; logs: StoryLogs }): Hono {
  const api = new Hono();
  api.onError((err, c) => {
    if (err instanceof ActionError) return c.json({ error: err.message }, err.status);
    if (err instanceof SyntaxError) return c.json({ error: `invalid JSON body: ${err.message}` }, 400);
    throw err;
  });
  const body = async (c: Context) => (c.req.header("content-length") === "0" ? {} : await c.req.json().catch((e) => { throw new SyntaxError(String(e.message)); }));

  api.get("/pipeline", (c) => c.json(actions.view()));
  api.get("/nodes", (c) => c.json(actions.view().nodes));
  api.get("/stories", (c) => c.json(Object.values(actions.view().stages).flat()));
  api.post("/stories", async (c) => c.json(actions.create(await body(c)), 201));
  api.get("/stories/:id", (c) => c.json(actions.get(c.req.param("id"))));
  api.patch("/stories/:id", async (c) => c.json(actions.update(c.req.param("id"), await body(c))));
  api.delete("/stories/:id", (c) => {
    actions.remove(c.req.param("id"));
    return c.body(null, 204);
  });
  api.post("/stories/:id/move", async (c) => {
    const b = (await body(c)) as { stage?: string; reason?: string };
    if (typeof b.stage !== "string") throw new ActionError(400, "body needs {stage}");
    return c.json(await actions.move(c.req.param("id"), b.stage, b.reason));
  });
  api.post("/stories/:id/tick", async (c) => {
    const b = (await body(c)) as { index?: number; done?: boolean };
    if (typeof b.index !== "number") throw new ActionError(400, "body needs {index} (0-based)");
    return c.json(actions.tick(c.req.param("id"), b.index, b.done ?? true));
  });
  api.post("/stories/:id/block", async (c) => c.json(actions.block(c.req.param("id"), String(((await body(c)) as { reason?: string }).reason ?? ""))));
  api.post("/stories/:id/unblock", (c) => c.json(actions.unblock(c.req.param("id"))));
  api.post("/stories/:id/release", (c) => c.json(actions.release(c.req.param("id"))));
  api.post("/stories/:id/assign", async (c) => c.json(actions.assign(c.req.param("id"), String(((await body(c)) as { node?: string }).node ?? ""))));

  api.post("/nodes/:id/pause", async (c) => {
    const reason = ((await body(c)) as { reason?: unknown } | null)?.reason;
    return c.json(actions.pauseNode(c.req.param("id"), typeof reason === "string" ? reason : undefined));
  });
  api.post("/nodes/:id/resume", (c) => c.json(actions.resumeNode(c.req.param("id"))));

  api.get("/stories/:id/log", async (c) => {
    const id = actions.get(c.req.param("id")).id;
    if (c.req.query("follow") === undefined) {
      const text = await deps.logs.read(id, { local: c.req.query("local") !== undefined });
      return c.text(text ?? "", text === undefined ? 404 : 200);
    }
    // The log lives on the node that runs the story: relay that node's stream.
    const remote = c.req.query("local") === undefined ? deps.logs.remoteFor(id) : undefined;
    if (remote) {
      const upstream = await fetch(`${remote}/api/stories/${id}/log?follow&local`, { signal: c.req.raw.signal }).catch(() => undefined);
      if (upstream?.ok) return new Response(upstream.body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    }
    return streamSSE(c, async (stream) => {
      const existing = await deps.logs.read(id, { local: true });
      for (const line of (existing ?? "").split("\n").filter(Boolean)) await stream.writeSSE({ data: line });
      const stop = deps.logs.follow(id, (line) => void stream.writeSSE({ data: line }));
      await new Promise<void>((resolve) => stream.onAbort(() => resolve()));
      stop();
    });
  });

  api.post("/tokens", async (c) => {
    if (!deps.tokens) throw new ActionError(409, "this node does not issue join tokens");
    const b = (await body(c)) as { ttlSecs?: number };
    const ttl = typeof b.ttlSecs === "number" && b.ttlSecs > 0 ? b.ttlSecs : JOIN_TOKEN_TTL_SECS;
    return c.json(deps.tokens.create(ttl), 201);
  });
  return api;
}
