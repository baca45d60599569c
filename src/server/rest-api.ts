import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { ActionError, type OperatorActions } from "./operator-actions.js";
import { tokenTtl } from "./token-ttl.js";
import { jsonObject } from "./json-body.js";
import type { JoinTokenStore } from "../trust/join-tokens.js";
import type { StoryLogs } from "../runtime/story-log.js";
import type { JoinIssuer } from "./join-issuer.js";
import type { IdempotencyKeys } from "./idempotency.js";

/** Admitting a key by hand (the gateway, for an agent that proved it to the gateway). */
export type AdmitKey = (nodeId: string) => { ok: true } | { ok: false; status: 404 | 409; error: string };

/** Parse a body with a schema; the first issue becomes the 400's message. */
async function bodyOf<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const r = schema.safeParse(await jsonObject(c));
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ActionError(400, `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`);
}

const moveBody = z.object({ stage: z.string({ error: "body needs {stage}" }), reason: z.string().max(10_000).optional() });
const tickBody = z.object({ index: z.number({ error: "body needs {index} (0-based)" }).int().min(0), done: z.boolean().default(true) });
const blockBody = z.object({ reason: z.string().max(10_000).default("") });
const admitBody = z.object({
  nodeId: z.string({ error: "body needs {nodeId}" }).regex(/^[0-9a-f]{64}$/, "nodeId must be a 64-char hex public key"),
});
const assignBody = z.object({ node: z.string().max(200).default("") });

/** REST under `/api`. Bodies are JSON objects; errors are `{error}` with a 4xx status. */
export function restApi(
  actions: OperatorActions,
  deps: { tokens?: JoinTokenStore; logs: StoryLogs; join?: JoinIssuer; admit?: AdmitKey; idempotency?: IdempotencyKeys },
): Hono {
  const api = new Hono();
  const id = (c: Context) => c.req.param("id") ?? "";

  api.get("/pipeline", (c) => c.json(actions.view()));
  api.get("/nodes", (c) => c.json(actions.view().nodes));
  api.get("/board", (c) => c.json(actions.board()));
  api.get("/accounts", (c) => c.json(actions.accounts()));
  api.get("/stories", (c) => c.json(Object.values(actions.view().stages).flat()));
  // A create repeated with the same `Idempotency-Key` gets the first answer, not a second item.
  if (deps.idempotency) api.post("/stories", deps.idempotency.middleware());
  api.post("/stories", async (c) => c.json(actions.create(await jsonObject(c)), 201));
  api.get("/stories/:id", (c) => c.json(actions.get(id(c))));
  api.patch("/stories/:id", async (c) => c.json(actions.update(id(c), await jsonObject(c))));
  api.delete("/stories/:id", (c) => {
    actions.remove(id(c));
    return c.body(null, 204);
  });
  api.post("/stories/:id/move", async (c) => {
    const b = await bodyOf(c, moveBody);
    return c.json(await actions.move(id(c), b.stage, b.reason));
  });
  api.post("/stories/:id/tick", async (c) => {
    const b = await bodyOf(c, tickBody);
    return c.json(actions.tick(id(c), b.index, b.done));
  });
  api.post("/stories/:id/block", async (c) => c.json(actions.block(id(c), (await bodyOf(c, blockBody)).reason)));
  api.post("/stories/:id/unblock", (c) => c.json(actions.unblock(id(c))));
  api.post("/stories/:id/release", (c) => c.json(actions.release(id(c))));
  api.post("/stories/:id/review", async (c) => c.json(actions.review(id(c), await jsonObject(c))));
  api.post("/stories/:id/approve", async (c) => c.json(await actions.approve(id(c))));
  api.post("/stories/:id/reject", async (c) => c.json(actions.reject(id(c), await jsonObject(c))));
  api.post("/stories/:id/assign", async (c) => c.json(actions.assign(id(c), (await bodyOf(c, assignBody)).node)));
  api.post("/stories/:id/answer", async (c) => c.json(actions.answer(id(c), (await jsonObject(c)).answer)));
  api.post("/stories/:id/purge", async (c) => c.json(await actions.purge(id(c))));

  api.post("/nodes/:id/pause", async (c) => {
    const reason = (await jsonObject(c)).reason;
    return c.json(actions.pauseNode(id(c), typeof reason === "string" ? reason : undefined));
  });
  api.post("/nodes/:id/resume", (c) => c.json(actions.resumeNode(id(c))));
  api.delete("/nodes/:id", (c) => c.json(actions.revokeNode(id(c))));

  api.get("/stories/:id/log", async (c) => {
    const storyId = actions.get(id(c)).id;
    if (c.req.query("follow") === undefined) {
      const text = await deps.logs.read(storyId);
      return c.text(text ?? "", text === undefined ? 404 : 200);
    }
    // The log lives on the node that runs the story: this node's copy, or the holder's stream
    // over the log relay.
    return streamSSE(c, async (stream) => {
      let ended: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        ended = resolve;
        stream.onAbort(resolve);
      });
      const stop = deps.logs.stream(storyId, (line) => void stream.writeSSE({ data: line }), ended);
      await done;
      stop();
    });
  });

  api.post("/tokens", async (c) => {
    if (!deps.tokens) throw new ActionError(409, "this node does not issue join tokens");
    const ttl = tokenTtl((await jsonObject(c)).ttlSecs);
    if (!ttl.ok) throw new ActionError(400, ttl.error);
    return c.json(actions.createJoin(ttl.secs, c.req.header("host")), 201);
  });
  api.post("/nodes/admit", async (c) => {
    if (!deps.admit || !deps.join) throw new ActionError(409, "this node does not admit keys");
    const nodeId = (await bodyOf(c, admitBody)).nodeId;
    const done = deps.admit(nodeId);
    if (!done.ok) throw new ActionError(done.status, done.error);
    return c.json({ nodeId, join: deps.join.issue(c.req.header("host")) }, 201);
  });
  return api;
}
