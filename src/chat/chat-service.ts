import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { assistantSlot } from "../config/agents-config.js";
import { CHAT_CONFIRM_TIMEOUT_SECS, CHAT_TURN_MAX_LINES } from "../config/defaults.js";
import type { LiveConfig } from "../config/live-config.js";
import { huskiesDir } from "../config/project-root.js";
import { parseBotCommand } from "../pipeline/bot-command.js";
import { ActionError, noteText, parse } from "../server/action-schemas.js";
import type { NodeInfo } from "../server/node-info.js";
import type { Confinement } from "../confinement/confine.js";
import { assistantPrompt } from "./assistant-prompt.js";
import { startAssistantRun, type AssistantRun } from "./assistant-run.js";
import { answerCommand } from "./bot.js";
import { ChatHistory } from "./chat-history.js";
import type { ChatEvent, ChatMessage, ChatSnapshot } from "./chat-message.js";
import { Confirmations } from "./confirmations.js";

export interface ChatServiceOptions {
  root: string;
  /** The project's name, for the assistant's prompt. */
  project: string;
  config: LiveConfig;
  node: NodeInfo;
  log: Logger;
  /** The node's confinement, when it has one (it is made after the chat). */
  confinement?: () => Confinement | undefined;
}

/**
 * The board's chat on the rendezvous: bot commands answered at once from OperatorActions, anything
 * else an assistant run (one at a time) whose log lines stream to the panel; destructive calls of
 * the assistant wait for a click. History is per project, bounded and kept across restarts.
 */
export class ChatService extends EventEmitter<{ event: [ChatEvent] }> {
  private readonly history: ChatHistory;
  private readonly confirmations: Confirmations;
  private current: { id: string; lines: string[]; run?: AssistantRun } | undefined;

  constructor(private readonly o: ChatServiceOptions) {
    super();
    this.setMaxListeners(0);
    this.history = new ChatHistory(huskiesDir(o.root, "chat.jsonl"), o.log);
    this.confirmations = new Confirmations(CHAT_CONFIRM_TIMEOUT_SECS * 1000, (m) => this.publish(m));
    // A run the previous process was doing when it stopped will never finish: say so.
    for (const m of this.history.list())
      if (m.status === "running" || m.status === "pending") this.history.put({ ...m, status: m.role === "confirm" ? "expired" : "failed" });
  }

  snapshot(): ChatSnapshot {
    const cur = this.current;
    return { messages: this.history.list().map((m) => (m.id === cur?.id ? { ...m, lines: [...cur.lines] } : m)), running: !!cur };
  }

  /** A person's message: a bot command's answer, or the start of an assistant run. Returns what was added. */
  async post(input: unknown): Promise<ChatMessage[]> {
    const text = parse(noteText("the message"), input);
    const cmd = parseBotCommand(text);
    if (!cmd && this.current) throw new ActionError(409, "the assistant is still answering the last message: wait for it, or stop it");
    const user = this.publish({ id: randomUUID(), t: Date.now(), role: "user", text });
    if (cmd) {
      const reply = await answerCommand(cmd, this.o.node.actions, { nodeAliveMs: this.o.config.project.node_alive_secs * 1000 });
      return [user, this.publish({ id: randomUUID(), t: Date.now(), role: "bot", text: reply })];
    }
    const earlier = this.history.list().filter((m) => m.id !== user.id);
    const answer = this.publish({ id: randomUUID(), t: Date.now(), role: "assistant", text: "", lines: [], status: "running" });
    this.current = { id: answer.id, lines: [] };
    this.emit("event", { type: "running", running: true });
    void this.run(answer, assistantPrompt({ project: this.o.project, history: earlier, text }));
    return [user, answer];
  }

  /** A person's click on a confirmation. */
  decide(id: string, allow: boolean): ChatMessage {
    if (!this.confirmations.decide(id, allow))
      throw new ActionError(409, `no confirmation ${id.slice(0, 80)} is waiting (decided, expired or unknown)`);
    return this.history.get(id)!;
  }

  /** Stop the assistant's run (its answer ends as failed: "stopped by a person"). */
  async stop(): Promise<boolean> {
    const run = this.current?.run;
    if (!run) return false;
    await run.stop("stopped by a person");
    return true;
  }

  async close(): Promise<void> {
    this.confirmations.cancelAll();
    await this.current?.run?.stop("the server is stopping");
  }

  private async run(answer: ChatMessage, prompt: string): Promise<void> {
    const cur = this.current!;
    let final: ChatMessage;
    try {
      const project = this.o.config.project;
      cur.run = await startAssistantRun({
        root: this.o.root,
        slot: assistantSlot(this.o.config.agents),
        node: this.o.node,
        prompt,
        confirm: (c) => this.confirmations.ask(c),
        toolTimeoutMs: CHAT_CONFIRM_TIMEOUT_SECS * 1000 + 30_000,
        inactivityMs: project.inactivity_timeout_secs * 1000,
        log: this.o.log,
        confinement: this.o.confinement?.(),
        onLine: (line) => {
          cur.lines.push(line);
          if (cur.lines.length > CHAT_TURN_MAX_LINES) cur.lines.shift();
          this.emit("event", { type: "line", id: answer.id, line });
        },
      });
      const r = await cur.run.done;
      const text = r.finalText ?? (r.ok ? "" : `The assistant failed: ${r.error ?? r.reason}`);
      final = { ...answer, text, lines: cur.lines, status: r.ok ? "done" : "failed" };
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, "the assistant could not start");
      final = { ...answer, text: `The assistant could not start: ${(err as Error).message}`, lines: cur.lines, status: "failed" };
    }
    this.confirmations.cancelAll();
    this.current = undefined;
    this.publish(final);
    this.emit("event", { type: "running", running: false });
  }

  private publish(m: ChatMessage): ChatMessage {
    const kept = this.history.put(m);
    this.emit("event", { type: "message", message: kept });
    return kept;
  }
}
