import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { PACKAGE_ROOT } from "./paths.js";

/**
 * Scripted stand-ins for OpenAI's Responses API (what `codex` speaks, streaming SSE) and Google's
 * Gemini API (`streamGenerateContent?alt=sse`, what `gemini` speaks), like `ScriptedModelServer`
 * for claude: the real binaries run against them offline. Each answers with a shell command (the
 * CLI's own shell tool: codex `exec_command`, gemini `run_shell_command`), a final text, or an HTTP
 * error in the vendor's error shape. Event shapes are the ones the binaries accept (codex-cli 0.171,
 * gemini-cli 0.61), found by running them against these servers.
 */
export type VendorReply =
  | { shell: string; usage?: Usage }
  | { text: string; usage?: Usage }
  | { error: { status: number; body: unknown; headers?: Record<string, string> } }
  /** codex only: a `response.failed` event (the model failed the turn: the story's failure). */
  | { failed: { code: string; message: string } };

export interface Usage {
  input: number;
  output: number;
}

export interface VendorRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** `step` counts tool results already in the conversation; `prompt` is every user text of it. */
export type VendorScript = (ctx: { step: number; prompt: string; request: VendorRequest }) => VendorReply | Promise<VendorReply>;

const DEFAULT_USAGE: Usage = { input: 1200, output: 80 };

abstract class VendorServer {
  readonly requests: VendorRequest[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(protected readonly script: VendorScript) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", () => resolve()));
    this.port = (this.server!.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  protected abstract answer(req: VendorRequest, res: ServerResponse): Promise<void>;

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      /* not JSON: an empty body */
    }
    const request = { url: req.url ?? "", headers: { ...req.headers }, body };
    await this.answer(request, res);
  }

  protected error(res: ServerResponse, reply: Extract<VendorReply, { error: unknown }>): void {
    res.writeHead(reply.error.status, { "content-type": "application/json", ...reply.error.headers }).end(JSON.stringify(reply.error.body));
  }
}

let counter = 0;

/** OpenAI's Responses API, as codex uses it (`POST /v1/responses`, `stream: true`). */
export class ScriptedResponsesServer extends VendorServer {
  protected async answer(request: VendorRequest, res: ServerResponse): Promise<void> {
    if (!request.url.endsWith("/responses")) return void res.writeHead(404).end();
    this.requests.push(request);
    const input = Array.isArray(request.body.input) ? (request.body.input as Array<Record<string, unknown>>) : [];
    const step = input.filter((i) => i.type === "function_call_output").length;
    const prompt = input
      .filter((i) => i.role === "user")
      .flatMap((i) => (Array.isArray(i.content) ? (i.content as Array<{ text?: string }>).map((c) => c.text ?? "") : []))
      .join("\n");
    const reply = await this.script({ step, prompt, request });
    if ("error" in reply) return this.error(res, reply);
    res.writeHead(200, { "content-type": "text/event-stream" });
    const id = `resp_scripted_${++counter}`;
    const send = (o: Record<string, unknown>) => res.write(`event: ${String(o.type)}\ndata: ${JSON.stringify(o)}\n\n`);
    send({ type: "response.created", response: { id } });
    if ("failed" in reply) {
      send({ type: "response.failed", response: { id, error: reply.failed } });
      return void res.end();
    }
    const item =
      "shell" in reply
        ? { type: "function_call", name: "exec_command", call_id: `call_${++counter}`, arguments: JSON.stringify({ cmd: reply.shell }) }
        : { type: "message", role: "assistant", id: `msg_${++counter}`, content: [{ type: "output_text", text: reply.text }] };
    send({ type: "response.output_item.done", item });
    const u = reply.usage ?? DEFAULT_USAGE;
    send({
      type: "response.completed",
      response: {
        id,
        usage: {
          input_tokens: u.input,
          input_tokens_details: null,
          output_tokens: u.output,
          output_tokens_details: null,
          total_tokens: u.input + u.output,
        },
      },
    });
    res.end();
  }

  /** Environment that points codex at this server (a `model_providers` entry made by the runtime). */
  env(codexHome: string): Record<string, string> {
    return { OPENAI_BASE_URL: `${this.url}/v1`, OPENAI_API_KEY: "sk-scripted-responses", CODEX_HOME: codexHome };
  }
}

/** Google's Gemini API, as gemini uses it (`POST /v1beta/models/M:streamGenerateContent?alt=sse`). */
export class ScriptedGeminiServer extends VendorServer {
  protected async answer(request: VendorRequest, res: ServerResponse): Promise<void> {
    if (!/:(stream)?generateContent/i.test(request.url)) {
      if (request.url.includes(":countTokens"))
        return void res.writeHead(200, { "content-type": "application/json" }).end('{"totalTokens":10}');
      return this.error(res, { error: { status: 404, body: { error: { code: 404, message: "not found", status: "NOT_FOUND" } } } });
    }
    this.requests.push(request);
    const contents = Array.isArray(request.body.contents)
      ? (request.body.contents as Array<{ role?: string; parts?: Array<Record<string, unknown>> }>)
      : [];
    const step = contents.filter((c) => c.parts?.some((p) => p.functionResponse)).length;
    const prompt = contents
      .filter((c) => c.role === "user")
      .flatMap((c) => (c.parts ?? []).map((p) => (typeof p.text === "string" ? p.text : "")))
      .join("\n");
    const reply = await this.script({ step, prompt, request });
    if ("error" in reply) return this.error(res, reply);
    if ("failed" in reply) throw new Error("`failed` is a codex reply");
    const parts =
      "shell" in reply ? [{ functionCall: { name: "run_shell_command", args: { command: reply.shell } } }] : [{ text: reply.text }];
    const u = reply.usage ?? DEFAULT_USAGE;
    const chunk = {
      candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: u.input, candidatesTokenCount: u.output, totalTokenCount: u.input + u.output },
      modelVersion: "gemini-2.5-pro",
    };
    if (request.url.includes("alt=sse")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
    } else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(chunk));
  }

  /** Environment that points gemini at this server (API-key auth, set up by the runtime). */
  env(): Record<string, string> {
    return { GOOGLE_GEMINI_BASE_URL: this.url, GEMINI_API_KEY: "scripted-gemini-key" };
  }
}

/** The test-only package folder holding the codex and gemini binaries (`.ci/run` installs it). */
export const CLI_BIN = join(PACKAGE_ROOT, "test", "runtimes", "node_modules", ".bin");
