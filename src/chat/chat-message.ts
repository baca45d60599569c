/** One message of a project's board chat. Types only: the board imports them. */
export interface ChatMessage {
  id: string;
  t: number;
  /** `user`: a person; `bot`: a command's answer (no model); `assistant`: a model's run; `confirm`: a destructive call waiting for a click. */
  role: "user" | "bot" | "assistant" | "confirm";
  text: string;
  /** An assistant run: its log lines (`{t, kind, event?, text?}` JSON, the story-log shape), for the timeline. */
  lines?: string[];
  /** An assistant run or a confirmation. */
  status?: "running" | "done" | "failed" | "pending" | "allowed" | "declined" | "expired";
  /** A confirmation: the tool, its arguments and what it would do. */
  tool?: string;
  args?: Record<string, unknown>;
}

/** What `GET /api/chat` answers and the event stream starts with. */
export interface ChatSnapshot {
  messages: ChatMessage[];
  /** An assistant run is under way (a new message waits for it). */
  running: boolean;
}

/** Events of `GET /api/chat/events` (SSE, one JSON object per event). */
export type ChatEvent =
  | ({ type: "snapshot" } & ChatSnapshot)
  /** A message was added or changed (a run finished, a confirmation was decided). */
  | { type: "message"; message: ChatMessage }
  /** One more log line of a running assistant message. */
  | { type: "line"; id: string; line: string }
  | { type: "running"; running: boolean };
