import { randomUUID } from "node:crypto";
import type { Confirmation } from "../server/mcp-tool.js";
import type { ChatMessage } from "./chat-message.js";

interface Pending {
  message: ChatMessage;
  decide: (allow: boolean, status: "allowed" | "declined" | "expired") => void;
}

/**
 * Destructive calls of the assistant waiting for a person's click. The assistant reads text
 * anyone who files a story controls, so a delete, purge, revoke or move out of `done` it makes is
 * shown in the panel and runs only if a person confirms it within `timeoutMs`; otherwise it is a
 * tool error the model reads ("not confirmed").
 */
export class Confirmations {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly timeoutMs: number,
    /** Each state of a confirmation's message (pending, then allowed, declined or expired). */
    private readonly show: (m: ChatMessage) => void,
  ) {}

  /** Ask; resolves true only when a person allows it in time. */
  ask(c: Confirmation): Promise<boolean> {
    const message: ChatMessage = {
      id: `confirm-${randomUUID()}`,
      t: Date.now(),
      role: "confirm",
      text: c.why,
      tool: c.tool,
      args: c.args,
      status: "pending",
    };
    this.show(message);
    return new Promise((resolve) => {
      const timer = setTimeout(() => entry.decide(false, "expired"), this.timeoutMs);
      const entry: Pending = {
        message,
        decide: (allow, status) => {
          clearTimeout(timer);
          this.pending.delete(message.id);
          this.show({ ...message, status });
          resolve(allow);
        },
      };
      this.pending.set(message.id, entry);
    });
  }

  /** A person's click; false when there is no such pending confirmation (decided, expired, unknown). */
  decide(id: string, allow: boolean): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    p.decide(allow, allow ? "allowed" : "declined");
    return true;
  }

  /** The run ended: whatever still waits is declined (its tool call is gone). */
  cancelAll(): void {
    for (const p of [...this.pending.values()]) p.decide(false, "expired");
  }
}
