import { useState } from "react";
import type { Item } from "../types";
import { api } from "../use-pipeline";
import type { ReviewDraft } from "./use-review-draft";

/**
 * Human QA (`qa = "human"`): the story waits in `qa` for a person. Approve passes it to merge;
 * reject sends it back to current with the review comment and the line comments collected below.
 */
export function HumanQaBar({ item, draft }: { item: Item; draft: ReviewDraft }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const path = `/api/stories/${encodeURIComponent(item.id)}`;
  const call = async (what: "approve" | "reject") => {
    if (what === "reject" && !draft.comments.length && !draft.summary.trim()) {
      setStatus({ ok: false, text: "Say why first: write a review comment, or comment on lines of the diff below." });
      return;
    }
    try {
      if (what === "approve") await api("POST", `${path}/approve`);
      else await api("POST", `${path}/reject`, { reason: draft.summary.trim() || undefined, comments: draft.comments });
      if (what === "reject") draft.clear();
      setStatus({ ok: true, text: what === "approve" ? "approved: on to merge" : "rejected: sent back to current with your review" });
    } catch (err) {
      setStatus({ ok: false, text: (err as Error).message });
    }
  };
  return (
    <div className="qa-bar" role="group" aria-label="human QA">
      <span>This story waits for a person&rsquo;s QA.</span>
      <button type="button" className="approve" onClick={() => void call("approve")}>
        Approve
      </button>
      <button type="button" className="reject" onClick={() => void call("reject")}>
        Reject
      </button>
      {draft.comments.length > 0 && <span className="muted">(rejecting sends the {draft.comments.length} line comments below)</span>}
      {status && (
        <p className={status.ok ? "ok" : "error"} role={status.ok ? "status" : "alert"}>
          {status.text}
        </p>
      )}
    </div>
  );
}
