import type { AgentSlot } from "../config/agents-config.js";
import type { RunResult } from "../runtime/agent-runtime.js";
import type { Review } from "../pipeline/review.js";
import { answeredQuestionNote, answerPrompt, buildPrompt, reviewContinuePrompt } from "../runtime/prompt.js";
import type { Question } from "../state/item.js";

/** How the next run of a job starts: the story's prompt (with feedback), or a session continued. */
export interface Turn {
  feedback?: string;
  resume?: string;
  /** Replaces the "continue" prompt of a resumed session (a person's answer). */
  prompt?: string;
  /** Appended to a fresh prompt (a question and its answer from a session that cannot be resumed). */
  note?: string;
  /** Line comments the run must address; with `reviewResume`, the resumed session is told only them. */
  review?: Review;
  reviewResume?: boolean;
}

/** No run happened: the claim went away while the story waited for a person. */
export const LOST_WAITING: RunResult = {
  ok: false,
  outcome: "lost",
  reason: "claim lost while waiting for a person",
  exit: null,
  durationMs: 0,
};

/** The prompt of a resumed session: the model has the whole earlier conversation. */
function continuePrompt(feedback: string | undefined): string {
  const why = feedback ? `\n\nMeanwhile this came up:\n\n${feedback.slice(-4000)}` : "";
  return `Your previous run on this story was interrupted before it finished (huskies stopped it or the node paused). Continue where you left off: finish the work, meet every acceptance criterion and commit it.${why}`;
}

/** The prompt of a turn: a resumed session's short one, or the story's with feedback and any answered question. */
export function turnPrompt(
  turn: Turn,
  slot: AgentSlot,
  vars: { story_id: string; worktree_path: string; base_branch: string; story_markdown: string },
): string {
  if (turn.resume)
    return turn.prompt ?? (turn.reviewResume && turn.review ? reviewContinuePrompt(turn.review) : continuePrompt(turn.feedback));
  const note = turn.note ? `\n\n## A person answered a question about this story\n\n${turn.note}\n` : "";
  return buildPrompt(slot.role, slot.prompt, vars, turn.feedback, turn.review) + note;
}

/**
 * The turn after a person's answer: the same session when the question came from this node and
 * slot (its session is here), else a fresh one with the question and answer in the prompt.
 */
export function answeredTurn(q: Question, me: { node: string; slot: string }, feedback: string | undefined): Turn {
  const same = q.node === me.node && q.slot === me.slot ? q.sessionId : undefined;
  return same
    ? { resume: same, prompt: answerPrompt(q), note: answeredQuestionNote(q), feedback }
    : { feedback, note: answeredQuestionNote(q) };
}
