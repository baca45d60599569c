import { memo, useMemo, useState, type FormEvent } from "react";
import type { LineComment } from "../../../src/pipeline/review";
import { highlightLine, escapeHtml } from "../highlight";
import { lineKey, type ReviewDraft } from "./use-review-draft";

interface Row {
  kind: "hunk" | "add" | "del" | "ctx" | "meta";
  a: string;
  b: string;
  html: string;
  sign: string;
  /** The line a comment on this row refers to (none on hunk headers and "\ No newline" notes). */
  target?: { line: number; old?: true };
}

/** Rows of one file's hunks, line numbers counted from the hunk headers, highlighted within `budget`. */
function toRows(lines: string[], language: string | undefined, budget: number): Row[] {
  let oldNo = 0;
  let newNo = 0;
  return lines.map((line, i) => {
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      return { kind: "hunk", a: "", b: "", html: escapeHtml(line), sign: "" };
    }
    const sign = line[0] ?? " ";
    const kind = sign === "+" ? "add" : sign === "-" ? "del" : sign === "\\" ? "meta" : "ctx";
    const a = kind === "add" || kind === "meta" ? "" : String(oldNo++);
    const b = kind === "del" || kind === "meta" ? "" : String(newNo++);
    const code = line.slice(1);
    const html = kind === "meta" || i >= budget ? escapeHtml(code) : highlightLine(code, language);
    const target = kind === "del" ? { line: Number(a), old: true as const } : kind === "meta" ? undefined : { line: Number(b) };
    return { kind, a, b, html, sign: kind === "meta" ? "" : sign, target };
  });
}

/**
 * One file's diff lines. Each line can take a comment (the `+` at its start): the comments are
 * collected in the review draft and shown under their lines until the review is sent.
 */
export const DiffLines = memo(function DiffLines({
  path,
  lines,
  language,
  budget,
  draft,
}: {
  path: string;
  lines: string[];
  language: string | undefined;
  budget: number;
  draft?: ReviewDraft;
}) {
  const rows = useMemo(() => toRows(lines, language, budget), [lines, language, budget]);
  const [editing, setEditing] = useState<string | null>(null);
  const mine = useMemo(
    () => new Map((draft?.comments ?? []).filter((c) => c.file === path).map((c) => [lineKey(c), c])),
    [draft?.comments, path],
  );
  return (
    <div className="diff-lines" role="table" aria-label={`diff of ${path}`}>
      {rows.map((r, i) => {
        const at = r.target ? { file: path, ...r.target } : undefined;
        const key = at ? lineKey(at) : "";
        const comment = at ? mine.get(key) : undefined;
        const where = at ? `${path} line ${at.line}${at.old ? " (removed)" : ""}` : "";
        return (
          <div key={i} className="dl-wrap">
            <div className={`dl dl-${r.kind}`} role="row">
              <span role="cell" className="ln-act">
                {at && draft && (
                  <button
                    type="button"
                    className="ln-comment"
                    aria-label={`comment on ${where}`}
                    title={`comment on ${where}`}
                    onClick={() => setEditing(key)}
                  >
                    +
                  </button>
                )}
              </span>
              <span className="ln" aria-hidden>
                {r.a}
              </span>
              <span className="ln" aria-hidden>
                {r.b}
              </span>
              {r.kind === "hunk" ? (
                <code role="cell" dangerouslySetInnerHTML={{ __html: r.html }} />
              ) : (
                <code role="cell" data-sign={r.sign} dangerouslySetInnerHTML={{ __html: r.html }} />
              )}
            </div>
            {at && draft && comment && editing !== key && (
              <div className="line-note" role="note" aria-label={`your comment on ${where}`}>
                <p>{comment.text}</p>
                <button type="button" onClick={() => setEditing(key)}>
                  edit
                </button>
                <button type="button" onClick={() => draft.remove(comment)}>
                  remove
                </button>
              </div>
            )}
            {at && draft && editing === key && (
              <LineCommentForm
                where={`${path}:${at.line}`}
                initial={comment?.text ?? ""}
                onSave={(text) => {
                  draft.put({ ...at, text } as LineComment);
                  setEditing(null);
                }}
                onCancel={() => setEditing(null)}
              />
            )}
          </div>
        );
      })}
    </div>
  );
});

function LineCommentForm({
  where,
  initial,
  onSave,
  onCancel,
}: {
  where: string;
  initial: string;
  onSave: (text: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim()) onSave(text.trim());
  };
  return (
    <form className="line-form" onSubmit={save} aria-label={`comment on ${where}`}>
      <textarea
        aria-label={`comment on ${where}`}
        value={text}
        autoFocus
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save(e);
          if (e.key === "Escape") {
            e.stopPropagation();
            onCancel();
          }
        }}
        placeholder="What should change here?"
      />
      <div>
        <button type="submit" disabled={!text.trim()}>
          Add comment
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
