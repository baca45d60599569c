import { rmSync } from "node:fs";
import { featureBranch, isItemId } from "../pipeline/item-id.js";
import { parseStage, STAGES, type Stage } from "../pipeline/stages.js";
import { renderStory, setCriterion } from "../pipeline/story-markdown.js";
import type { Item, NodeEntry } from "../state/item.js";
import type { AccountsView } from "../state/accounts-view.js";
import type { Claims } from "../state/claims.js";
import type { PipelineDoc } from "../state/pipeline-doc.js";
import { isNodeId } from "../state/document-reader.js";
import { isPeerAlive } from "../state/claim-view.js";
import type { PeerClockView } from "../state/peer-receipts.js";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../version.js";
import { documentSchema, SCHEMA } from "../state/migrations/index.js";
import { commitsAhead, git, hasRemote } from "../git/git.js";
import { branchDiff, DiffUnavailable, type BranchDiff } from "../git/branch-diff.js";
import type { StoryLogs } from "../runtime/story-log.js";
import type { LiveConfig } from "../config/live-config.js";
import {
  ActionError,
  checkText,
  defined,
  newStorySchema,
  noteText,
  parse,
  REVIEWABLE,
  reviewSchema,
  storyPatchSchema,
} from "./action-schemas.js";
import { logWindow, type LogWindow, type LogWindowOptions } from "./log-window.js";
import { BoardSnapshots, type BoardSnapshot } from "./board-snapshot.js";
import { reviewReason, type Review } from "../pipeline/review.js";

export type { AccountsView } from "../state/accounts-view.js";
export { ActionError, newStorySchema, reviewSchema, storyPatchSchema } from "./action-schemas.js";

/** Minting a one-time join token and the join string that carries it (the rendezvous). */
export type JoinMinter = (ttlSecs: number, host: string | undefined) => { token: string; expiresAt: number; join?: string };

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
  /** Accounts, their pauses and today's spend (issue 28). */
  accounts?: AccountsView;
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
    private readonly opts: {
      root: string;
      baseBranch: () => Promise<string>;
      nodes?: NodeControl;
      /** Story logs (reading, and removing them on purge). */
      logs?: StoryLogs;
      /** The live config, for `reloadConfig`. */
      config?: LiveConfig;
      joins?: JoinMinter;
      nodeAliveMs?: () => number;
      accounts?: () => AccountsView;
    },
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
      ...(this.opts.accounts ? { accounts: this.opts.accounts() } : {}),
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

  /** Accounts, their pauses and today's spend as this node sees them (the board's accounts panel). */
  accounts(): AccountsView {
    if (!this.opts.accounts) throw new ActionError(404, "this node keeps no account ledger");
    return this.opts.accounts();
  }

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
    this.pipeline.update(id, defined(parse(storyPatchSchema, input)));
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
   * Delete the item and what this server keeps of it: its log and prompt file, and its feature
   * branch on origin. Agents remove their worktrees of it once it is gone (when that loses nothing).
   */
  async purge(id: string): Promise<{ id: string; purged: true; branchDeleted: boolean }> {
    this.remove(id);
    if (this.opts.logs) for (const f of [this.opts.logs.file(id), this.opts.logs.promptFile(id)]) rmSync(f, { force: true });
    const root = this.opts.root;
    const remote = await hasRemote(root).catch(() => false);
    const deleted = remote ? await git(root, ["push", "--quiet", "origin", "--delete", featureBranch(id)], { allowFail: true }) : undefined;
    return { id, purged: true, branchDeleted: deleted?.exitCode === 0 };
  }

  /** A person answers the question a coder asked (`ask_human`); the coder's session resumes with it. */
  answer(id: string, text: unknown): Item {
    const item = this.get(id);
    const answer = parse(noteText("the answer"), text);
    if (!item.question || item.question.answer !== undefined) throw new ActionError(409, `${id} has no open question`);
    this.pipeline.update(id, { question: { ...item.question, answer, answeredAt: Date.now() } });
    return this.get(id);
  }

  /** The story's branch against the base, as origin has them; 404 until it is pushed. */
  async diff(id: string): Promise<BranchDiff> {
    this.get(id);
    let d: BranchDiff | undefined;
    try {
      d = await branchDiff(this.opts.root, await this.opts.baseBranch(), id);
    } catch (err) {
      throw new ActionError(503, err instanceof DiffUnavailable ? err.message : "the diff could not be computed");
    }
    if (!d) throw new ActionError(404, `the branch of ${id} is not pushed yet`);
    return d;
  }

  /** A page of the story's log (see `logWindow`: tail, since an offset, a bounded wait). */
  async log(id: string, o: LogWindowOptions = {}): Promise<LogWindow> {
    this.get(id);
    if (!this.opts.logs) throw new ActionError(409, "this node keeps no logs");
    return logWindow(this.opts.logs, id, o);
  }

  /** Read project.toml and agents.toml again now (they are also watched); an invalid file is a 400 and changes nothing. */
  reloadConfig(): { reloaded: true; slots: number } {
    const cfg = this.opts.config;
    if (!cfg) throw new ActionError(409, "this node has no config to reload");
    let reason: string | undefined;
    const onRejected = (r: string) => (reason = r);
    cfg.once("rejected", onRejected);
    const ok = cfg.reload();
    cfg.off("rejected", onRejected);
    if (!ok) throw new ActionError(400, reason ?? "config rejected");
    return { reloaded: true, slots: cfg.agents.agent.length };
  }

  /** A one-time join token as a join string (`huskies agent --join`). */
  createJoin(ttlSecs: number, host?: string): { token: string; expiresAt: number; join?: string } {
    if (!this.opts.joins) throw new ActionError(409, "this node does not issue join tokens");
    return this.opts.joins(ttlSecs, host);
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
