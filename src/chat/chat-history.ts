import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Logger } from "pino";
import { CHAT_HISTORY_MAX, CHAT_TURN_MAX_LINES, MAX_NOTE_CHARS } from "../config/defaults.js";
import type { ChatMessage } from "./chat-message.js";

const ROLES = new Set(["user", "bot", "assistant", "confirm"]);

/** A message read back from disk, or undefined when the line is not one (a torn write, a hand edit). */
function readMessage(line: string): ChatMessage | undefined {
  try {
    const v = JSON.parse(line) as Partial<ChatMessage>;
    if (typeof v.id !== "string" || typeof v.t !== "number" || !ROLES.has(v.role as string) || typeof v.text !== "string") return undefined;
    return {
      ...v,
      lines: Array.isArray(v.lines) ? v.lines.filter((l) => typeof l === "string").slice(-CHAT_TURN_MAX_LINES) : undefined,
    } as ChatMessage;
  } catch {
    return undefined;
  }
}

/**
 * A project's chat, the last `max` messages, kept in `.huskies/chat.jsonl` on the rendezvous so it
 * survives restarts. Each new or changed message is appended (the last line of an id wins when
 * read back); the file is rewritten with only the kept messages once it holds twice as many lines,
 * so it stays bounded however long the project talks.
 */
export class ChatHistory {
  private readonly messages = new Map<string, ChatMessage>();
  private fileLines = 0;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly max = CHAT_HISTORY_MAX,
  ) {
    if (!existsSync(file)) return;
    let bad = 0;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line) continue;
      this.fileLines += 1;
      const m = readMessage(line);
      if (!m) bad += 1;
      else this.messages.set(m.id, m);
    }
    if (bad) log.warn({ file, skipped: bad }, "chat history: unreadable lines skipped");
    this.trim();
  }

  list(): ChatMessage[] {
    return [...this.messages.values()];
  }

  get(id: string): ChatMessage | undefined {
    return this.messages.get(id);
  }

  /** Add or replace a message and persist it. Long texts are cut; a disk error is logged, never thrown. */
  put(m: ChatMessage): ChatMessage {
    const kept: ChatMessage = { ...m, text: m.text.slice(0, MAX_NOTE_CHARS * 4), lines: m.lines?.slice(-CHAT_TURN_MAX_LINES) };
    this.messages.set(kept.id, kept);
    this.trim();
    try {
      if (this.fileLines >= this.max * 2) this.rewrite();
      else {
        appendFileSync(this.file, `${JSON.stringify(kept)}\n`);
        this.fileLines += 1;
      }
    } catch (err) {
      this.log.error({ file: this.file, err: (err as Error).message }, "chat history could not be saved");
    }
    return kept;
  }

  private trim(): void {
    for (const id of this.messages.keys()) {
      if (this.messages.size <= this.max) break;
      this.messages.delete(id);
    }
  }

  /** Only the kept messages, written aside and renamed over the file (a crash leaves one or the other). */
  private rewrite(): void {
    const tmp = `${this.file}.tmp`;
    const list = this.list();
    writeFileSync(tmp, list.map((m) => `${JSON.stringify(m)}\n`).join(""));
    renameSync(tmp, this.file);
    this.fileLines = list.length;
  }
}
