import { useCallback, useEffect, useState } from "react";
import { REVIEW_LIMITS, type LineComment } from "../../../src/pipeline/review";

/** Where on the diff a comment sits: a line of the new file, or a removed line of the base's. */
export const lineKey = (c: { file: string; line: number; old?: boolean }) => `${c.file}\n${c.old ? "-" : "+"}${c.line}`;

export interface ReviewDraft {
  comments: LineComment[];
  /** Add (or replace) the comment on that line. */
  put: (c: LineComment) => void;
  remove: (c: LineComment) => void;
  summary: string;
  setSummary: (s: string) => void;
  clear: () => void;
}

const storageKey = (id: string) => `huskies-review-${id}`;

function load(id: string): { comments: LineComment[]; summary: string } {
  try {
    const v = JSON.parse(sessionStorage.getItem(storageKey(id)) ?? "null") as { comments?: LineComment[]; summary?: string } | null;
    return { comments: Array.isArray(v?.comments) ? v.comments : [], summary: typeof v?.summary === "string" ? v.summary : "" };
  } catch {
    return { comments: [], summary: "" };
  }
}

/**
 * The comments a reviewer is collecting on a story's diff before sending them in one go. Kept in
 * the tab's session storage, so closing the story (or reloading) loses nothing unsent.
 */
export function useReviewDraft(storyId: string): ReviewDraft {
  // (The story view is keyed by story, so `storyId` is fixed for the life of this state.)
  const [draft, setDraft] = useState(() => load(storyId));
  useEffect(() => {
    if (draft.comments.length || draft.summary) sessionStorage.setItem(storageKey(storyId), JSON.stringify(draft));
    else sessionStorage.removeItem(storageKey(storyId));
  }, [storyId, draft]);
  const put = useCallback(
    (c: LineComment) =>
      setDraft((d) => ({
        ...d,
        comments: [...d.comments.filter((x) => lineKey(x) !== lineKey(c)), c].slice(-REVIEW_LIMITS.comments),
      })),
    [],
  );
  const remove = useCallback(
    (c: LineComment) => setDraft((d) => ({ ...d, comments: d.comments.filter((x) => lineKey(x) !== lineKey(c)) })),
    [],
  );
  const setSummary = useCallback((summary: string) => setDraft((d) => ({ ...d, summary })), []);
  const clear = useCallback(() => setDraft({ comments: [], summary: "" }), []);
  return { ...draft, put, remove, setSummary, clear };
}
