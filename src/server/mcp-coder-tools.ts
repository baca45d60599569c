import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { MAX_NOTE_CHARS, TICK_WAIT_MS } from "../config/defaults.js";
import { parseCriteria, setCriterion } from "../pipeline/story-markdown.js";
import type { Item, ItemPatch } from "../state/item.js";
import { VERSION } from "../version.js";
import { registerTools, tool, type HuskiesTool } from "./mcp-tool.js";

/**
 * What one coder run may touch through its channel: its own story, written as the holder of its
 * claim. Nothing else of the pipeline is reachable from here.
 */
export interface StoryScope {
  storyId: string;
  node: string;
  slot: string;
  item(): Item | undefined;
  /** Write fields of the story with the run's claim token; false once the claim is lost. */
  patch(p: ItemPatch): boolean;
  /** The run's session id, when the runtime has said it. */
  sessionId(): string | undefined;
  /** Ask the rendezvous to tick a criterion (a signed request; see tick-request.ts); false once the claim is lost. */
  tick(index: number, done: boolean): boolean;
  /** Call `cb` on every change of the document; returns how to stop. */
  onChange(cb: () => void): () => void;
}

/** The answer `ask_human` gives the model: the question waits on the board, the session resumes with the answer. */
export const ASKED =
  "Your question is on the board, and a notification went out. End your turn now with one short line; " +
  "huskies resumes this same session with the person's answer.";

const idArg = z.string().max(200).optional().describe("your story's id (optional: this session works on one story only)");

/** The story the call names, which must be the session's own. */
function own(scope: StoryScope, id: string | undefined): Item {
  if (id !== undefined && id !== scope.storyId)
    throw new Error(`refused: this session works on ${scope.storyId} only, not ${id.slice(0, 100)}`);
  const item = scope.item();
  if (!item) throw new Error(`${scope.storyId} is no longer in the pipeline`);
  return item;
}

function write(scope: StoryScope, patch: ItemPatch): void {
  if (!scope.patch(patch)) throw new Error(`this run no longer holds ${scope.storyId} (its claim was taken back): stop working`);
}

/** Resolves true once `done()` holds, false after `ms`: event-driven, no polling. */
function until(s: StoryScope, done: () => boolean, ms: number): Promise<boolean> {
  if (done()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (v: boolean) => {
      clearTimeout(timer);
      off();
      resolve(v);
    };
    const timer = setTimeout(() => finish(false), ms);
    const off = s.onChange(() => done() && finish(true));
  });
}

const line = z.string().trim().min(1).max(MAX_NOTE_CHARS);

export const CODER_TOOLS: ReadonlyArray<HuskiesTool<StoryScope>> = [
  tool({
    name: "show_story",
    description: "Your story: its markdown and acceptance criteria with their indexes and ticks.",
    input: { id: idArg },
    run: (s, a) => {
      const item = own(s, a.id);
      return { id: item.id, name: item.name, stage: item.stage, body: item.body, criteria: parseCriteria(item.body) };
    },
  }),
  tool({
    name: "tick_criterion",
    description: "Tick (or untick) one of your story's acceptance criteria by its 0-based index, once your work meets it.",
    input: { id: idArg, index: z.number().int().min(0).max(1000), done: z.boolean().default(true) },
    run: async (s, a) => {
      const item = own(s, a.id);
      // An index past the last criterion throws "no criterion N": a tool error.
      setCriterion(item.body, a.index, a.done);
      if (!s.tick(a.index, a.done)) throw new Error(`this run no longer holds ${s.storyId} (its claim was taken back): stop working`);
      const shown = await until(s, () => parseCriteria(s.item()?.body ?? "")[a.index]?.done === a.done, TICK_WAIT_MS);
      const criteria = parseCriteria(s.item()?.body ?? item.body);
      return shown ? { criteria } : { requested: true, note: "the tick shows once the rendezvous has it; go on working", criteria };
    },
  }),
  tool({
    name: "report_progress",
    description: "One line on your story's card on the board: what you are doing or have done.",
    input: { id: idArg, text: line },
    run: (s, a) => {
      own(s, a.id);
      write(s, { progress: { text: a.text, at: Date.now() } });
      return "shown on the board";
    },
  }),
  tool({
    name: "ask_human",
    description:
      "Ask a person a question you cannot answer from the code or the story. The story waits for a person, the question " +
      "is on the board; end your turn after asking, and this session resumes with the answer.",
    input: { id: idArg, question: line },
    run: (s, a) => {
      const item = own(s, a.id);
      if (item.question && item.question.answer === undefined)
        throw new Error("a question is already waiting for an answer: end your turn");
      const sessionId = s.sessionId();
      write(s, { question: { text: a.question, askedAt: Date.now(), node: s.node, slot: s.slot, ...(sessionId ? { sessionId } : {}) } });
      return ASKED;
    },
  }),
];

/** The MCP server a coder's channel answers with: its own story's tools only. */
export function buildCoderMcp(scope: StoryScope): McpServer {
  const mcp = new McpServer({ name: "huskies", version: VERSION });
  registerTools(mcp, CODER_TOOLS, scope);
  return mcp;
}
