import { commentsByFile, type Review } from "../../../src/pipeline/review";

/** The review a story was sent back with, as the coder gets it (until the work passes to qa again). */
export function SentReview({ review }: { review: Review }) {
  const n = review.comments.length;
  return (
    <details className="sent-review" open>
      <summary>
        Sent back {new Date(review.at).toLocaleString()}
        {n ? ` with ${n} line comment${n === 1 ? "" : "s"}` : ""}
      </summary>
      {review.summary && <p>{review.summary}</p>}
      <ul aria-label="line comments sent">
        {commentsByFile(review).flatMap(({ file, comments }) =>
          comments.map((c) => (
            <li key={`${file}:${c.old ? "-" : "+"}${c.line}`}>
              <code>
                {file}:{c.line}
                {c.old ? " (removed)" : ""}
              </code>{" "}
              {c.text}
            </li>
          )),
        )}
      </ul>
    </details>
  );
}
