/**
 * A review by the line: comments a person left on lines of a story's diff, sent back together.
 * The shape is stored on the item (`review`), so it is read from a shared document: `readReview`
 * takes anything and returns a review within the limits, or undefined. Pure, no I/O.
 */

/** One comment on one line of the branch's diff. */
export interface LineComment {
  /** The file's path in the repository (the diff's `b/` side). */
  file: string;
  /** 1-based line number: in the new file, or in the base's file when `old` (a removed line). */
  line: number;
  text: string;
  /** The line was removed: `line` counts in the base branch's version of the file. */
  old?: boolean;
}

export interface Review {
  /** When it was sent (ms). */
  at: number;
  /** An overall comment, besides the line comments. */
  summary?: string;
  comments: LineComment[];
}

/** What one review may hold: REST refuses more, and the reader drops anything beyond. */
export const REVIEW_LIMITS = {
  comments: 100,
  text: 4000,
  file: 500,
  summary: 10_000,
  /** No diff the board shows has more lines than this in one file. */
  line: 10_000_000,
} as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A repository path as a diff names it: relative, no `..` segment, no control characters. */
export function isReviewPath(p: unknown): p is string {
  return (
    typeof p === "string" &&
    p.length > 0 &&
    p.length <= REVIEW_LIMITS.file &&
    !p.startsWith("/") &&
    !p.split("/").includes("..") &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(p)
  );
}

function readComment(v: unknown): LineComment | undefined {
  if (!isObject(v) || !isReviewPath(v.file)) return undefined;
  const line = v.line;
  if (typeof line !== "number" || !Number.isInteger(line) || line < 1 || line > REVIEW_LIMITS.line) return undefined;
  if (typeof v.text !== "string" || !v.text.trim()) return undefined;
  return { file: v.file, line, text: v.text.slice(0, REVIEW_LIMITS.text), ...(v.old === true ? { old: true } : {}) };
}

/** A review from a document value; malformed comments are dropped, a review with none left is undefined. */
export function readReview(v: unknown): Review | undefined {
  if (!isObject(v) || typeof v.at !== "number" || !Number.isFinite(v.at) || !Array.isArray(v.comments)) return undefined;
  const comments = v.comments
    .slice(0, REVIEW_LIMITS.comments)
    .map(readComment)
    .filter((c): c is LineComment => !!c);
  const summary = typeof v.summary === "string" && v.summary.trim() ? v.summary.slice(0, REVIEW_LIMITS.summary) : undefined;
  if (comments.length === 0 && !summary) return undefined;
  return { at: v.at, ...(summary ? { summary } : {}), comments };
}

/** The comments grouped by file (files in the order first commented), each file's by line. */
export function commentsByFile(review: Review): Array<{ file: string; comments: LineComment[] }> {
  const files = new Map<string, LineComment[]>();
  for (const c of review.comments) files.set(c.file, [...(files.get(c.file) ?? []), c]);
  return [...files].map(([file, comments]) => ({ file, comments: [...comments].sort((a, b) => a.line - b.line) }));
}

/** One line of the item's `failure`, so status, logs and the board say what the send-back was. */
export function reviewReason(review: Review): string {
  const n = review.comments.length;
  const files = new Set(review.comments.map((c) => c.file)).size;
  const lines = n ? `review: ${n} line comment${n === 1 ? "" : "s"} on ${files} file${files === 1 ? "" : "s"}` : "review";
  return review.summary ? `${lines}. ${review.summary}` : lines;
}

/** The review as the coder reads it: the overall comment, then each file with its lines. */
export function formatReview(review: Review): string {
  const out: string[] = [];
  if (review.summary) out.push(review.summary.trim(), "");
  if (review.comments.length) {
    out.push("Comments on lines of your changes, by file:", "");
    for (const { file, comments } of commentsByFile(review)) {
      out.push(`### ${file}`);
      for (const c of comments) {
        const where = c.old ? " (a removed line, numbered as in the base branch)" : "";
        const text = c.text.trim().split("\n");
        out.push(`- ${file}:${c.line}${where}: ${text[0]}`, ...text.slice(1).map((t) => `  ${t}`));
      }
      out.push("");
    }
  }
  return out.join("\n").trimEnd();
}
