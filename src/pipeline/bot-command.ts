/**
 * The board chat's bot commands, answered without a model. A message is a command only when it
 * has a command's exact shape (`show 3`, `move 3 qa`); anything else — "show me what is blocked",
 * "help me file a bug" — is a sentence for the assistant. A leading `/` is allowed (`/status`).
 */
export type BotCommand =
  | { cmd: "help" }
  | { cmd: "status" }
  | { cmd: "show"; ref: string }
  | { cmd: "move"; ref: string; stage: string }
  | { cmd: "pause"; node: string; reason?: string }
  | { cmd: "resume"; node: string }
  | { cmd: "log"; ref: string };

export const BOT_HELP: ReadonlyArray<[usage: string, what: string]> = [
  ["help", "this list"],
  ["status", "stages, running stories, nodes"],
  ["show ID", "one story (its number is enough: show 3)"],
  ["move ID STAGE", "move a story (backlog, current, qa, merge, done, archived)"],
  ["pause NODE [reason]", "pause a node (id, id prefix or label)"],
  ["resume NODE", "resume a paused node"],
  ["log ID", "the last lines of a story's agent log"],
];

/** A story reference as people type it: a full id or its number. */
const REF = /^(?:[0-9]+|[0-9]+_(?:story|bug|spike|refactor)_[a-z0-9_]{0,60})$/;
/** A node reference: an id, a prefix, or a label (no spaces). */
const NODE = /^[A-Za-z0-9_.:-]{1,100}$/;
const STAGE = /^[A-Za-z0-9_]{1,20}$/;

/** The command `text` is, or undefined when it is a sentence for the assistant. */
export function parseBotCommand(text: string): BotCommand | undefined {
  const words = text.trim().replace(/^\//, "").split(/\s+/);
  const [head, ...rest] = words;
  const name = head?.toLowerCase();
  switch (name) {
    case "help":
    case "status":
      return rest.length === 0 ? { cmd: name } : undefined;
    case "show":
    case "log":
      return rest.length === 1 && REF.test(rest[0]!) ? { cmd: name, ref: rest[0]! } : undefined;
    case "move":
      return rest.length === 2 && REF.test(rest[0]!) && STAGE.test(rest[1]!) ? { cmd: "move", ref: rest[0]!, stage: rest[1]! } : undefined;
    case "pause": {
      if (rest.length === 0 || !NODE.test(rest[0]!)) return undefined;
      const reason = rest.slice(1).join(" ").trim();
      return { cmd: "pause", node: rest[0]!, ...(reason ? { reason } : {}) };
    }
    case "resume":
      return rest.length === 1 && NODE.test(rest[0]!) ? { cmd: "resume", node: rest[0]! } : undefined;
    default:
      return undefined;
  }
}

/** The full id a reference names, from the ids that exist: `3` names the one whose number is 3. */
export function resolveRef(ref: string, ids: Iterable<string>): string | undefined {
  if (!/^[0-9]+$/.test(ref)) return ref;
  for (const id of ids) if (id.split("_")[0] === ref) return id;
  return undefined;
}
