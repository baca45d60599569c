/** One line of a story log (`.huskies/logs/<id>.log`), as `StoryLogs.append` writes it. Types only, so the board can import it. */
export interface LogEntry {
  t: number;
  node?: string;
  slot?: string;
  /** `event` (a runtime's JSON event), `stdout`, `stderr`, `info`, `gate`. */
  kind: string;
  text?: string;
  event?: unknown;
}
