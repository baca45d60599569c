import { z } from "zod";
import { ITEM_TYPES, isItemId } from "../pipeline/item-id.js";
import { parseStage, STAGES, type Stage } from "../pipeline/stages.js";
import { renderStory, setCriterion } from "../pipeline/story-markdown.js";
import { featureBranch } from "../pipeline/item-id.js";
import { QA_MODES } from "../pipeline/qa-modes.js";
import type { Item, NodeEntry } from "../state/item.js";
import type { Claims } from "../state/claims.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import { isNodeId } from "../state/document-reader.js";
import { isPeerAlive } from "../state/claim-view.js";
import type { PeerClockView } from "../state/peer-receipts.js";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../version.js";
import { documentSchema, SCHEMA } from "../state/migrations/index.js";
import { commitsAhead, git, hasRemote } from "../git/git.js";
import { BoardSnapshots, type BoardSnapshot } from "./board-snapshot.js";
import { isReviewPath, REVIEW_LIMITS, reviewReason, type Review } from "../pipeline/review.js";
import { controlCharacter, controlCharacterMessage } from "../pipeline/text-rules.js";

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
function checkText(field: string, value: string | undefined): void {
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
const REVIEWABLE: readonly Stage[] = ["qa", "merge", "done"];

/** A review by the line (REST `…/review`, `…/reject`, MCP `reject_story`): line comments and/or an overall comment. */
export const reviewSchema = z
  .strictObject({
    summary: z.string().trim().max(REVIEW_LIMITS.summary).optional(),
    comments: z.array(lineComment).max(REVIEW_LIMITS.comments, `at most ${REVIEW_LIMITS.comments} comments`).default([]),
  })
  .refine((r) => r.comments.length > 0 || !!r.summary, "a review needs a comment: {summary} or {comments: [{file, line, text}]}");

/**
 * A node as the answering node sees it: its entry, and `liveness` judged here — whether it is
 * alive (its heartbeat received here within `node_alive_secs`), how long ago, and its clock's
 * offset from this node's when that is more than 5 s (docs/architecture.md, "Faults").
 */
export type NodeView = NodeEntry & { liveness?: PeerClockView & { alive: boolean } };

export interface PipelineView {
  stages: Record<Stage, Item[]>;
  nodes: NodeView[];
  /** What the serving node runs and the document's schema (README "Versions"). */
  release: { version: string; protocol: number; minProtocol: number; schema: number | null; supportedSchema: number };
}

/**
 * What a person (CLI, REST, board, MCP) can do to the pipeline. One implementation behind every
 * interface, so they cannot drift apart.
 */
/** Pausing and resuming nodes: this node directly, others through a signed directive. */
export interface NodeControl {
  pause(nodeId: string, reason: string): void;
  resume(nodeId: string): void;
  /** Refuse the key everywhere from now on and close its links. */
  revoke(nodeId: string): void;
}

export class OperatorActions {
  private readonly pipeline: PipelineDoc;

  constructor(
    private readonly claims: Claims,
    private readonly opts: { root: string; baseBranch: () => Promise<string>; nodes?: NodeControl; nodeAliveMs?: () => number },
  ) {
    this.pipeline = claims.pipeline;
  }

  view(): PipelineView {
    const stages = Object.fromEntries(STAGES.map((s) => [s, [] as Item[]])) as Record<Stage, Item[]>;
    for (const item of this.pipeline.listItems()) stages[item.stage].push(item);
    const aliveMs = this.opts.nodeAliveMs?.() ?? 60_000;
    return {
      stages,
      nodes: this.pipeline.listNodes().map((n) => ({
        ...n,
        liveness: { alive: isPeerAlive(this.pipeline, n.id, aliveMs), ...this.pipeline.receipts.view(n.id) },
      })),
      release: {
        version: VERSION,
        protocol: PROTOCOL,
        minProtocol: MIN_PROTOCOL,
        schema: documentSchema(this.pipeline.doc) ?? null,
        supportedSchema: SCHEMA,
      },
    };
  }

  /** The board's first paint (see board-snapshot.ts). */
  board(): BoardSnapshot {
    this.snapshots ??= new BoardSnapshots(this.pipeline);
    return this.snapshots.get();
  }

  private snapshots: BoardSnapshots | undefined;

  create(input: unknown): Item {
    const s = parse(newStorySchema, input);
    const body = s.body !== undefined && !s.criteria ? s.body : renderStory({ name: s.name, body: s.body, criteria: s.criteria });
    try {
      return this.pipeline.createItem({ name: s.name, type: s.type, stage: s.stage, body, dependsOn: s.dependsOn, qa: s.qa });
    } catch (err) {
      // Numbers run out only when an item with an absurd number was planted: refuse, never loop.
      if (err instanceof RangeError) throw new ActionError(409, err.message);
      throw err;
    }
  }

  get(id: string): Item {
    const item = isItemId(id) ? this.pipeline.getItem(id) : undefined;
    if (!item) throw new ActionError(404, `unknown story ${id}`);
    return item;
  }

  update(id: string, input: unknown): Item {
    this.get(id);
    this.pipeline.update(id, parse(storyPatchSchema, input));
    return this.get(id);
  }

  async move(id: string, stageName: string, reason?: string): Promise<Item> {
    const item = this.get(id);
    checkText("reason", reason);
    const to = parseStage(String(stageName));
    if (!to) throw new ActionError(400, `invalid stage "${stageName}" (expected one of ${STAGES.join(", ")})`);
    const ahead = to === "merge" ? await this.commitsAheadOf(id) : undefined;
    try {
      this.claims.move(
        id,
        to,
        {
          actor: "operator",
          reason: reason ?? "moved by an operator",
          commitsAhead: ahead,
          mergeCommit: item.mergeCommit,
        },
        // A plain send-back replaces an earlier review: the coder is told only the latest.
        to === "current" ? { blocked: null, failure: reason ? { kind: "rework", message: reason } : undefined, review: undefined } : {},
      );
    } catch (err) {
      throw new ActionError(409, (err as Error).message);
    }
    return this.get(id);
  }

  /**
   * Send the story back to `current` with comments on lines of its diff, all at once: the review
   * is stored on the item and the coder's next prompt lists it by file and line. From `qa`,
   * `merge` or `done` (the transition table's `rework`), like any send-back.
   */
  review(id: string, input: unknown, now = Date.now()): Item {
    const item = this.get(id);
    const r = parse(reviewSchema, input);
    if (!REVIEWABLE.includes(item.stage))
      throw new ActionError(409, `only a story in ${REVIEWABLE.join(", ")} can be sent back with a review; ${id} is in ${item.stage}`);
    const review: Review = { at: now, ...(r.summary ? { summary: r.summary } : {}), comments: r.comments };
    const reason = reviewReason(review);
    try {
      this.claims.move(
        id,
        "current",
        { actor: "operator", reason },
        { blocked: null, failure: { kind: "rework", message: reason }, review },
      );
    } catch (err) {
      throw new ActionError(409, (err as Error).message);
    }
    return this.get(id);
  }

  /** Human QA passes: `qa` → `merge` (the branch must have commits ahead of the base). */
  async approve(id: string): Promise<Item> {
    const item = this.get(id);
    if (item.stage !== "qa") throw new ActionError(409, `only a story in qa can be approved; ${id} is in ${item.stage}`);
    return this.move(id, "merge", "approved by a person");
  }

  /** Human QA fails: `qa` → `current` with the reason (and any line comments) for the coder. */
  reject(id: string, input: unknown): Item {
    const item = this.get(id);
    if (item.stage !== "qa") throw new ActionError(409, `only a story in qa can be rejected; ${id} is in ${item.stage}`);
    const body = typeof input === "object" && input !== null ? (input as Record<string, unknown>) : {};
    const { reason, ...rest } = body;
    if (reason !== undefined && typeof reason !== "string") throw new ActionError(400, "reason: expected a string");
    return this.review(id, { ...rest, summary: reason ?? rest.summary });
  }

  tick(id: string, index: number, done = true): Item {
    const item = this.get(id);
    try {
      this.pipeline.update(id, { body: setCriterion(item.body, index, done) });
    } catch (err) {
      throw new ActionError(400, (err as Error).message);
    }
    return this.get(id);
  }

  block(id: string, reason: string): Item {
    this.get(id);
    checkText("reason", reason);
    this.claims.clear(id, { blocked: reason || "blocked by an operator" });
    return this.get(id);
  }

  unblock(id: string): Item {
    this.get(id);
    // A person looked at it: the node-trouble record starts over too (rule 2's breaker).
    this.pipeline.update(id, { blocked: null, retries: 0, troubledNodes: undefined });
    return this.get(id);
  }

  /** Drop the claim: the holder stops its coder, and the item is claimable again. */
  release(id: string): Item {
    this.get(id);
    this.claims.clear(id);
    return this.get(id);
  }

  /** Give the item to `node` with a fresh epoch; a previous holder stops its coder. */
  assign(id: string, node: string): Item {
    this.get(id);
    if (!this.pipeline.getNode(node)) throw new ActionError(404, `unknown node ${node}`);
    this.claims.grant(id, node);
    return this.get(id);
  }

  /** An operator's pause: the node finishes nothing new, keeps its worktrees, until resumed. */
  pauseNode(nodeId: string, reason?: string): NodeEntry {
    checkText("reason", reason);
    const node = this.node(nodeId);
    this.control().pause(node.id, (reason ?? "").trim().slice(0, 300) || "paused by an operator");
    return this.node(node.id);
  }

  resumeNode(nodeId: string): NodeEntry {
    const node = this.node(nodeId);
    this.control().resume(node.id);
    return this.node(node.id);
  }

  /**
   * Revoke a node's key: a signed revocation every node enforces within a sync round (its links
   * are closed, its certificate and join admission stop counting). Any well-formed key can be
   * revoked, also one that never wrote a node entry.
   */
  revokeNode(ref: string): { nodeId: string; revoked: true } {
    const id = isNodeId(ref) ? ref : this.node(ref).id;
    this.control().revoke(id);
    return { nodeId: id, revoked: true };
  }

  /** A node by id, by label, or by a unique id prefix (6+ characters), as people type them. */
  private node(ref: string): NodeEntry {
    const nodes = this.pipeline.listNodes();
    const candidates = [
      nodes.filter((n) => n.id === ref),
      nodes.filter((n) => n.label === ref),
      ref.length >= 6 ? nodes.filter((n) => n.id.startsWith(ref)) : [],
    ];
    const node = candidates.find((c) => c.length === 1)?.[0];
    if (!node) throw new ActionError(404, `unknown node ${ref.slice(0, 80)}`);
    return node;
  }

  private control(): NodeControl {
    if (!this.opts.nodes) throw new ActionError(409, "this node cannot pause nodes");
    return this.opts.nodes;
  }

  remove(id: string): void {
    this.get(id);
    this.pipeline.deleteItem(id);
  }

  /**
   * Commits the story's branch has on origin beyond the base, fetched for just these two refs.
   * A git failure is reported as such (503), never read as "0 commits ahead".
   */
  private async commitsAheadOf(id: string): Promise<number> {
    const root = this.opts.root;
    const base = await this.opts.baseBranch();
    const branch = featureBranch(id);
    try {
      if (!(await hasRemote(root))) return await commitsAhead(root, base, branch);
      const refs = [base, branch].map((b) => `+refs/heads/${b}:refs/remotes/origin/${b}`);
      // A branch that was never pushed is not an error: it has nothing ahead.
      await git(root, ["fetch", "--quiet", "origin", ...refs], { allowFail: true });
      return await commitsAhead(root, `origin/${base}`, `origin/${branch}`);
    } catch (err) {
      throw new ActionError(503, `cannot check ${branch} on origin: ${(err as Error).message}`);
    }
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ActionError(400, `${where}${issue.message}`);
  }
  return r.data;
}
