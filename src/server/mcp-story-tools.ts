import { z } from "zod";
import { ITEM_TYPES } from "../pipeline/item-id.js";
import { QA_MODES } from "../pipeline/qa-modes.js";
import { parseCriteria } from "../pipeline/story-markdown.js";
import { TimelineBuilder, parseLogLine } from "../runtime/log-timeline.js";
import { formatEntry } from "../cli/print-timeline.js";
import { MAX_LOG_LINES, MAX_LOG_WAIT_MS, MAX_NOTE_CHARS } from "../config/defaults.js";
import { ActionError } from "./action-schemas.js";
import { tool, type HuskiesTool } from "./mcp-tool.js";
import type { NodeInfo } from "./node-info.js";

/** What the operator tools run against: the node's actions and state, and the Host asked. */
export interface ToolContext extends NodeInfo {
  /** The `Host` of the request, for join strings that must name an address the caller reached. */
  host?: string;
}

export const idArg = z.string().max(200).describe("item id, e.g. 42_story_add_login");
const text = (max = MAX_NOTE_CHARS) => z.string().trim().min(1).max(max);

/** Comments on lines of a story's diff (the board's review by the line). */
const lineComments = z
  .array(
    z.object({
      file: z.string().max(1000).describe("path in the repository, as the diff names it"),
      line: z.number().int().min(1).describe("line number in the new version of the file"),
      text: z.string().min(1).max(10_000),
      old: z.boolean().optional().describe("true: the line number is in the old version"),
    }),
  )
  .max(100)
  .optional();

/** The story tools (names follow the original huskies where it had one). */
export const STORY_TOOLS: ReadonlyArray<HuskiesTool<ToolContext>> = [
  tool({
    name: "create_story",
    description: "File a new work item. Returns it with its id.",
    input: {
      name: z.string().min(1).max(200).describe("short name; the id's slug is made from it"),
      type: z.enum(ITEM_TYPES).default("story"),
      user_story: z.string().max(100_000).optional().describe("As a …, I want …, so that …"),
      description: z.string().max(100_000).optional().describe("more text for the body (after the user story)"),
      acceptance_criteria: z.array(z.string().min(1).max(500)).max(100).optional(),
      stage: z.string().default("backlog").describe("backlog, current, qa, merge, done or archived"),
      depends_on: z.array(z.string()).max(100).optional().describe("ids that must be done before it is promoted"),
      qa: z.enum(QA_MODES).optional(),
    },
    run: (c, a) =>
      c.actions.create({
        name: a.name,
        type: a.type,
        body: [a.user_story, a.description].filter(Boolean).join("\n\n") || undefined,
        criteria: a.acceptance_criteria,
        stage: a.stage,
        dependsOn: a.depends_on,
        qa: a.qa,
      }),
  }),
  tool({
    name: "update_story",
    description: "Change an item's name, body (markdown), dependencies or QA mode; fields left out stay as they are.",
    input: {
      id: idArg,
      name: z.string().min(1).max(200).optional(),
      body: z.string().max(100_000).optional(),
      depends_on: z.array(z.string()).max(100).optional(),
      qa: z.enum(QA_MODES).optional(),
    },
    run: (c, a) => c.actions.update(a.id, { name: a.name, body: a.body, dependsOn: a.depends_on, qa: a.qa }),
  }),
  tool({
    name: "delete_story",
    description: "Delete an item from the pipeline (its branch and logs stay; purge_story removes those too).",
    input: { id: idArg },
    destructive: (a) => `delete ${a.id}`,
    run: (c, a) => {
      c.actions.remove(a.id);
      return { id: a.id, deleted: true };
    },
  }),
  tool({
    name: "purge_story",
    description: "Delete an item and everything the server keeps of it: its log and its feature branch on origin.",
    input: { id: idArg },
    destructive: (a) => `purge ${a.id} (the item, its log and its branch)`,
    run: (c, a) => c.actions.purge(a.id),
  }),
  tool({
    name: "show_story",
    description: "One item with its markdown, criteria, claim, last run, question and progress.",
    input: { id: idArg },
    run: (c, a) => {
      const item = c.actions.get(a.id);
      return { ...item, criteria: parseCriteria(item.body) };
    },
  }),
  tool({
    name: "get_story_todos",
    description: "The acceptance criteria not yet ticked, with their indexes (for tick_criterion).",
    input: { id: idArg },
    run: (c, a) =>
      parseCriteria(c.actions.get(a.id).body)
        .map((cr, index) => ({ index, text: cr.text, done: cr.done }))
        .filter((cr) => !cr.done),
  }),
  tool({
    name: "move_story",
    description: "Move an item to another stage (the transition rules apply; moving to current takes the reason as rework).",
    input: { id: idArg, stage: z.string().max(40), reason: z.string().max(10_000).optional() },
    destructive: (a, c) => {
      const from = c.actions.get(a.id).stage;
      return from === "done" && a.stage.trim().toLowerCase() !== "done" ? `move ${a.id} out of done (to ${a.stage})` : undefined;
    },
    run: (c, a) => c.actions.move(a.id, a.stage, a.reason),
  }),
  tool({
    name: "block_story",
    description: "Block an item with a reason: its claim is dropped and nothing takes it until unblocked.",
    input: { id: idArg, reason: z.string().max(10_000).default("") },
    run: (c, a) => c.actions.block(a.id, a.reason),
  }),
  tool({
    name: "unblock_story",
    description: "Unblock an item (its retries start over).",
    input: { id: idArg },
    run: (c, a) => c.actions.unblock(a.id),
  }),
  tool({
    name: "assign_story",
    description: "Give an item to a node (by node id) with a fresh claim; a previous holder stops its agent.",
    input: { id: idArg, node: z.string().max(200) },
    run: (c, a) => c.actions.assign(a.id, a.node),
  }),
  tool({
    name: "release_story",
    description: "Drop an item's claim: its holder stops its agent and any node may take it again.",
    input: { id: idArg },
    run: (c, a) => c.actions.release(a.id),
  }),
  tool({
    name: "tick_criterion",
    description: "Tick (or untick) an acceptance criterion by its 0-based index among all criteria.",
    input: { id: idArg, index: z.number().int().min(0).max(1000), done: z.boolean().default(true) },
    run: (c, a) => c.actions.tick(a.id, a.index, a.done),
  }),
  tool({
    name: "check_criterion",
    description: "Tick a criterion as the original huskies did: criterion_index 0 is the first criterion not yet ticked.",
    input: { story_id: idArg, criterion_index: z.number().int().min(0).max(1000) },
    run: (c, a) => {
      const open = parseCriteria(c.actions.get(a.story_id).body)
        .map((cr, i) => ({ ...cr, i }))
        .filter((cr) => !cr.done);
      const target = open[a.criterion_index];
      if (!target) throw new ActionError(400, `no unticked criterion ${a.criterion_index} (${open.length} left)`);
      return c.actions.tick(a.story_id, target.i, true);
    },
  }),
  tool({
    name: "answer_question",
    description: "Answer the question a coder asked (ask_human); its session resumes with the answer.",
    input: { id: idArg, answer: text() },
    run: (c, a) => c.actions.answer(a.id, a.answer),
  }),
  tool({
    name: "get_pipeline_status",
    description: "Every stage with its items, the nodes, and the release the server runs.",
    input: {},
    run: (c) => c.actions.view(),
  }),
  tool({
    name: "get_story_log",
    description:
      "An item's agent log as a readable timeline. Without `since`: the last `tail` lines. With `since` (the `next` of an " +
      "earlier answer): the lines after it, waiting up to `wait_ms` for new ones when there are none yet — poll with it.",
    input: {
      id: idArg,
      tail: z.number().int().min(1).max(MAX_LOG_LINES).default(200),
      since: z.number().int().min(0).optional(),
      wait_ms: z.number().int().min(0).max(MAX_LOG_WAIT_MS).default(0),
      format: z.enum(["timeline", "json"]).default("timeline").describe("json: the raw JSON lines"),
    },
    run: async (c, a) => {
      const w = await c.actions.log(a.id, { tail: a.tail, since: a.since, waitMs: a.wait_ms });
      if (a.format === "json") return w;
      const builder = new TimelineBuilder();
      const body = w.lines.flatMap((l) => {
        const line = parseLogLine(l);
        return line ? builder.push(line).map((e) => formatEntry(e, { color: false })) : [];
      });
      const head = `lines ${w.from}–${w.next} of ${w.total}; call again with since=${w.next} for more`;
      return [head, ...(body.length ? body : ["(no new output)"])].join("\n");
    },
  }),
  tool({
    name: "git_diff",
    description: "The item's feature branch against the base, as origin has them: files with +/− counts and the patch.",
    input: { id: idArg },
    run: (c, a) => c.actions.diff(a.id),
  }),
  tool({
    name: "send_review",
    description:
      "Review an item in qa, merge or done by the line: comments on lines of its diff (and/or an overall summary) send it back " +
      "to current; the coder's next prompt lists them by file and line.",
    input: { id: idArg, summary: z.string().max(10_000).optional().describe("what is wrong, overall"), comments: lineComments },
    destructive: (a, c) => (c.actions.get(a.id).stage === "done" ? `send ${a.id} back out of done with a review` : undefined),
    run: (c, a) => c.actions.review(a.id, { summary: a.summary, comments: a.comments }),
  }),
  tool({
    name: "approve_story",
    description: "Human QA: pass an item that waits in qa on to merge (its branch must have commits ahead of the base).",
    input: { id: idArg },
    run: (c, a) => c.actions.approve(a.id),
  }),
  tool({
    name: "reject_story",
    description:
      "Human QA: send an item in qa back to current with the reason, and optionally comments on lines of its diff; the coder's next prompt lists them by file and line.",
    input: { id: idArg, reason: z.string().max(10_000).optional().describe("what is wrong, overall"), comments: lineComments },
    run: (c, a) => c.actions.reject(a.id, { reason: a.reason, comments: a.comments }),
  }),
];
