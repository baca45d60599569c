import { z } from "zod";
import { MAX_NOTE_CHARS } from "../config/defaults.js";
import { ITEM_TYPES, isItemId } from "../pipeline/item-id.js";
import { parseStage, STAGES, type Stage } from "../pipeline/stages.js";
import { QA_MODES } from "../pipeline/qa-modes.js";
import { controlCharacter, controlCharacterMessage } from "../pipeline/text-rules.js";
import { isReviewPath, REVIEW_LIMITS } from "../pipeline/review.js";

/** An error an operator caused, with the HTTP status it maps to. */
export class ActionError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** Text a person writes: control characters other than newline and tab are refused (400). */
const text = () =>
  z.string().superRefine((s, ctx) => {
    const found = controlCharacter(s);
    if (found) ctx.addIssue({ code: "custom", message: controlCharacterMessage(found) });
  });

/** The same rule for the plain-string arguments of moves, blocks and pauses. */
export function checkText(field: string, value: string | undefined): void {
  const found = value === undefined ? undefined : controlCharacter(value);
  if (found) throw new ActionError(400, `${field}: ${controlCharacterMessage(found)}`);
}

const stageInput = z.string().transform((s, ctx) => {
  const st = parseStage(s);
  if (!st) ctx.addIssue({ code: "custom", message: `invalid stage "${s}" (expected one of ${STAGES.join(", ")})` });
  return st as Stage;
});

export const newStorySchema = z.strictObject({
  name: text().trim().min(1, "name must not be empty").max(200),
  type: z.enum(ITEM_TYPES).default("story"),
  stage: stageInput.default("backlog"),
  body: text().max(100_000).optional(),
  criteria: z.array(text().min(1).max(500)).max(100).optional(),
  dependsOn: z.array(z.string().refine(isItemId, "not an item id")).optional(),
  qa: z.enum(QA_MODES).optional(),
});

export const storyPatchSchema = z.strictObject({
  name: text().trim().min(1).max(200).optional(),
  body: text().max(100_000).optional(),
  dependsOn: z.array(z.string().refine(isItemId, "not an item id")).optional(),
  qa: z.enum(QA_MODES).optional(),
});

const lineComment = z.strictObject({
  file: z.string().refine(isReviewPath, "file must be a relative path in the repository"),
  line: z.number().int().min(1).max(REVIEW_LIMITS.line),
  text: z.string().trim().min(1, "a comment needs text").max(REVIEW_LIMITS.text),
  old: z.boolean().optional(),
});

/** Stages whose work can be sent back by a review: those the `rework` transition leaves from. */
export const REVIEWABLE: readonly Stage[] = ["qa", "merge", "done"];

/** A review by the line (REST `…/review`, `…/reject`, MCP `reject_story`): line comments and/or an overall comment. */
export const reviewSchema = z
  .strictObject({
    summary: z.string().trim().max(REVIEW_LIMITS.summary).optional(),
    comments: z.array(lineComment).max(REVIEW_LIMITS.comments, `at most ${REVIEW_LIMITS.comments} comments`).default([]),
  })
  .refine((r) => r.comments.length > 0 || !!r.summary, "a review needs a comment: {summary} or {comments: [{file, line, text}]}");

/** A person's answer to a coder's question, a review comment: one bounded, non-empty text. */
export const noteText = (what: string) =>
  z.string().trim().min(1, `${what} must not be empty`).max(MAX_NOTE_CHARS, `${what} is longer than ${MAX_NOTE_CHARS} characters`);

/** Parse with a schema; the first issue becomes a 400 with its path. */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ActionError(400, `${where}${issue.message}`);
  }
  return r.data;
}

/** A patch without its `undefined` keys: a field left out is left alone, never deleted. */
export function defined<T extends Record<string, unknown>>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
