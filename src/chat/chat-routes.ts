import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { jsonObject } from "../server/json-body.js";
import { parse } from "../server/action-schemas.js";
import type { ChatEvent } from "./chat-message.js";
import type { ChatService } from "./chat-service.js";

const decision = z.strictObject({
  id: z.string({ error: "body needs {id, allow}" }).min(1).max(200),
  allow: z.boolean({ error: "body needs {id, allow} (allow: true or false)" }),
});

/**
 * The chat under `/api` (behind the same guard as the rest: writes need the admin token as every
 * write does, reads wherever reads do): `GET /chat` → `{messages, running}`; `POST /chat {text}`
 * → the messages it added (201); `POST /chat/confirm {id, allow}`; `POST /chat/stop`;
 * `GET /chat/events` (SSE: a snapshot first, then `message`, `line` and `running` events).
 */
export function chatRoutes(chat: ChatService): Hono {
  const api = new Hono();
  api.get("/chat", (c) => c.json(chat.snapshot()));
  api.post("/chat", async (c) => c.json({ messages: await chat.post((await jsonObject(c)).text) }, 201));
  api.post("/chat/confirm", async (c) => {
    const d = parse(decision, await jsonObject(c));
    return c.json(chat.decide(d.id, d.allow));
  });
  api.post("/chat/stop", async (c) => c.json({ stopped: await chat.stop() }));
  api.get("/chat/events", (c) =>
    streamSSE(c, async (stream) => {
      // One write after another, in the order the events happened (a line never overtakes its message).
      let tail = Promise.resolve();
      const send = (ev: ChatEvent) => {
        const data = JSON.stringify(ev);
        tail = tail.then(() => stream.writeSSE({ data })).catch(() => undefined);
      };
      chat.on("event", send);
      send({ type: "snapshot", ...chat.snapshot() });
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      chat.off("event", send);
    }),
  );
  return api;
}
