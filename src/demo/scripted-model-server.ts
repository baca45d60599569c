import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** One request Claude Code made to the Messages API, as received. */
export interface RecordedRequest {
  path: string;
  /** Request headers (lower-case names), e.g. `x-api-key` or `authorization`. */
  headers: Record<string, string | string[] | undefined>;
  body: {
    model?: string;
    stream?: boolean;
    system?: string | Array<{ type: string; text?: string }>;
    messages?: Array<{ role: string; content: string | Array<{ type: string; text?: string; content?: unknown }> }>;
    tools?: Array<{ name: string }>;
  };
}

/**
 * Response headers sent with a successful reply, e.g. the `anthropic-ratelimit-unified-*` headers
 * Claude Code reads on subscription logins to emit `rate_limit_event` (see `rateLimitHeaders`).
 */
export type ReplyHeaders = Record<string, string>;

/**
 * What the scripted model answers: call a tool, finish with text, or fail the request with an
 * HTTP error in the Messages API's error shape (`{type:"error", error:{type, message}}`).
 */
export type ScriptedReply =
  | { tool: { name: string; input: Record<string, unknown> }; headers?: ReplyHeaders }
  | { text: string; headers?: ReplyHeaders }
  | { error: ScriptedError };

/** An HTTP error reply: e.g. 429 `rate_limit_error` with `retry-after`, 401 `authentication_error`, 529 `overloaded_error`. */
export interface ScriptedError {
  status: number;
  type: string;
  message: string;
  headers?: ReplyHeaders;
}

/**
 * The unified rate-limit headers of a subscription login, as Claude Code 2.1 reads them
 * (`anthropic-ratelimit-unified-status|reset|representative-claim` and, for a warning, the
 * `-<claim>-utilization|reset|surpassed-threshold` triple). `resetsAt` is in epoch seconds.
 */
export function rateLimitHeaders(
  status: "allowed" | "allowed_warning" | "rejected",
  resetsAt: number,
  opts: { claim?: "5h" | "7d"; utilization?: number } = {},
): ReplyHeaders {
  const claim = opts.claim ?? "5h";
  const h: ReplyHeaders = {
    "anthropic-ratelimit-unified-status": status,
    "anthropic-ratelimit-unified-reset": String(resetsAt),
    "anthropic-ratelimit-unified-representative-claim": claim === "5h" ? "five_hour" : "seven_day",
  };
  if (opts.utilization !== undefined) {
    h[`anthropic-ratelimit-unified-${claim}-utilization`] = String(opts.utilization);
    h[`anthropic-ratelimit-unified-${claim}-reset`] = String(resetsAt);
    if (status === "allowed_warning")
      h[`anthropic-ratelimit-unified-${claim}-surpassed-threshold`] = String(Math.min(opts.utilization, 0.9));
  }
  return h;
}

/**
 * Decides the reply. `step` is the number of assistant turns already in the conversation, so
 * step 0 is the first answer, step 1 the answer after the first tool result, and so on.
 */
export type Script = (ctx: { request: RecordedRequest; step: number; prompt: string }) => ScriptedReply | Promise<ScriptedReply>;

/** All user-visible text of a request: system prompt, user messages and tool results. */
export function requestText(req: RecordedRequest): string {
  const parts: string[] = [];
  const sys = req.body.system;
  if (typeof sys === "string") parts.push(sys);
  else if (Array.isArray(sys)) parts.push(...sys.map((s) => s.text ?? ""));
  for (const m of req.body.messages ?? []) {
    if (typeof m.content === "string") parts.push(m.content);
    else for (const c of m.content) parts.push(c.text ?? (typeof c.content === "string" ? c.content : JSON.stringify(c.content ?? "")));
  }
  return parts.join("\n");
}

/** The first user message: huskies' rendered prompt. */
export function firstPrompt(req: RecordedRequest): string {
  const first = req.body.messages?.find((m) => m.role === "user");
  if (!first) return "";
  return typeof first.content === "string" ? first.content : first.content.map((c) => c.text ?? "").join("\n");
}

/**
 * A stand-in for the Anthropic Messages API that the real `claude` binary talks to through
 * `ANTHROPIC_BASE_URL`: streams scripted `tool_use` and text blocks over SSE, records each request.
 * The only mock in huskies' tests and demo, because the real model API is not reachable offline.
 */
export class ScriptedModelServer {
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(private readonly script: Script) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", () => resolve()));
    this.port = (this.server!.address() as { port: number }).port;
    return this;
  }

  /** Environment that points Claude Code at this server, offline and quiet. */
  env(configDir: string): Record<string, string> {
    return {
      ANTHROPIC_BASE_URL: this.url,
      ANTHROPIC_API_KEY: "sk-ant-scripted-model",
      CLAUDE_CONFIG_DIR: configDir,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      return;
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    let body: RecordedRequest["body"];
    try {
      body = JSON.parse(raw || "{}") as RecordedRequest["body"];
    } catch {
      res
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: "body is not JSON" } }));
      return;
    }
    const request: RecordedRequest = { path: req.url, headers: { ...req.headers }, body };
    if (req.url.startsWith("/v1/messages/count_tokens")) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ input_tokens: 100 }));
      return;
    }
    this.requests.push(request);
    const step = (request.body.messages ?? []).filter((m) => m.role === "assistant").length;
    const reply = await this.script({ request, step, prompt: firstPrompt(request) });
    if ("error" in reply) {
      const { status, type, message, headers } = reply.error;
      res.writeHead(status, { "content-type": "application/json", "request-id": `req_scripted_${++counter}`, ...headers });
      res.end(JSON.stringify({ type: "error", error: { type, message } }));
      return;
    }
    if (request.body.stream === false) {
      res.writeHead(200, { "content-type": "application/json", ...reply.headers }).end(JSON.stringify(message(reply, request.body.model)));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...reply.headers });
    for (const [event, data] of sseEvents(reply, request.body.model)) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    res.end();
  }

  async close(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve) => {
      this.server!.close(() => resolve());
      this.server!.closeAllConnections();
    });
  }
}

let counter = 0;
const USAGE = { input_tokens: 1200, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

type ContentReply = Exclude<ScriptedReply, { error: ScriptedError }>;

function block(reply: ContentReply) {
  return "tool" in reply
    ? { type: "tool_use", id: `toolu_scripted_${++counter}`, name: reply.tool.name, input: reply.tool.input }
    : { type: "text", text: reply.text };
}

function message(reply: ContentReply, model = "claude-sonnet-4-5") {
  return {
    id: `msg_scripted_${++counter}`,
    type: "message",
    role: "assistant",
    model,
    content: [block(reply)],
    stop_reason: "tool" in reply ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: USAGE,
  };
}

function sseEvents(reply: ContentReply, model = "claude-sonnet-4-5"): Array<[string, unknown]> {
  const b = block(reply);
  const start = b.type === "tool_use" ? { ...b, input: {} } : { type: "text", text: "" };
  const delta =
    b.type === "tool_use"
      ? { type: "input_json_delta", partial_json: JSON.stringify((b as { input: unknown }).input) }
      : { type: "text_delta", text: (b as { text: string }).text };
  return [
    [
      "message_start",
      {
        type: "message_start",
        message: {
          id: `msg_scripted_${++counter}`,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...USAGE, output_tokens: 1 },
        },
      },
    ],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: start }],
    ["content_block_delta", { type: "content_block_delta", index: 0, delta }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    [
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: b.type === "tool_use" ? "tool_use" : "end_turn", stop_sequence: null },
        usage: { output_tokens: USAGE.output_tokens },
      },
    ],
    ["message_stop", { type: "message_stop" }],
  ];
}
