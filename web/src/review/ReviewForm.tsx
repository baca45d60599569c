import { useState, type FormEvent } from "react";
import { commentsByFile } from "../../../src/pipeline/review";
import type { Item } from "../types";
import { api } from "../use-pipeline";
import type { ReviewDraft } from "./use-review-draft";

/** Stages a story can be sent back to `current` from (the `rework` transition). */
export const REWORKABLE = new Set(["qa", "merge", "done"]);

/**
 * Sending the story back: an overall comment and the line comments collected on the diff, in
 * one go (`POST …/review`), or the overall comment alone as the rework reason (`POST …/move`).
 * The coder's next prompt lists the line comments by file and line.
 */
export function ReviewForm({ item, draft }: { item: Item; draft: ReviewDraft }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const allowed = REWORKABLE.has(item.stage);
  const n = draft.comments.length;
  const path = `/api/stories/${encodeURIComponent(item.id)}`;
  const send = async (e: FormEvent) => {
    e.preventDefault();
    try {
      if (n) await api("POST", `${path}/review`, { summary: draft.summary.trim() || undefined, comments: draft.comments });
      else await api("POST", `${path}/move`, { stage: "current", reason: draft.summary.trim() });
      draft.clear();
      setStatus({
        ok: true,
        text: `sent back to current with your ${n ? `${n} line comment${n === 1 ? "" : "s"}` : "comment"}; the coder's next attempt gets ${n ? "them" : "it"}`,
      });
    } catch (err) {
      setStatus({ ok: false, text: (err as Error).message });
    }
  };
  return (
    <form className="send-back" onSubmit={send} aria-label="send the story back">
      {n > 0 && (
        <div className="pending-comments" aria-label="line comments to send">
          <strong>
            {n} line comment{n === 1 ? "" : "s"} to send
          </strong>
          <ul>
            {commentsByFile({ at: 0, comments: draft.comments }).flatMap(({ file, comments }) =>
              comments.map((c) => (
                <li key={`${file}:${c.old ? "-" : "+"}${c.line}`}>
                  <code>
                    {file}:{c.line}
                    {c.old ? " (removed)" : ""}
                  </code>{" "}
                  {c.text}{" "}
                  <button
                    type="button"
                    className="link"
                    onClick={() => draft.remove(c)}
                    aria-label={`remove the comment on ${file}:${c.line}`}
                  >
                    remove
                  </button>
                </li>
              )),
            )}
          </ul>
        </div>
      )}
      <label htmlFor={`comment-${item.id}`}>Review comment</label>
      <textarea
        id={`comment-${item.id}`}
        name="comment"
        value={draft.summary}
        onChange={(e) => draft.setSummary(e.target.value)}
        placeholder={
          allowed
            ? n
              ? "Anything to say overall? (optional)"
              : "What should the coder change? Or comment on lines of the diff with their +."
            : `Stories in ${item.stage} cannot be sent back (only from qa, merge or done).`
        }
        disabled={!allowed}
      />
      <button type="submit" disabled={!allowed || (!n && !draft.summary.trim())}>
        Send back to current{n ? ` with ${n} line comment${n === 1 ? "" : "s"}` : ""}
      </button>
      {status && (
        <p className={status.ok ? "ok" : "error"} role={status.ok ? "status" : "alert"}>
          {status.text}
        </p>
      )}
    </form>
  );
}
