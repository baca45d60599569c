import { useEffect, useMemo, useState, type FormEvent } from "react";
import type { BranchDiff } from "../../src/git/branch-diff";
import type { Item } from "./types";
import { adminToken, api } from "./use-pipeline";
import { highlightLine, languageOf, escapeHtml } from "./highlight";

/** Highlighting is per line; past this many lines the rest of a large diff is shown plain. */
const MAX_HIGHLIGHTED_LINES = 4000;
/** Files shown open at first; the rest start folded. */
const OPEN_FILES = 12;
/** Stages a story can be sent back to `current` from (the `rework` transition). */
const REWORKABLE = new Set(["qa", "merge", "done"]);

type Load =
  { state: "loading" } | { state: "none"; message: string } | { state: "error"; message: string } | { state: "ok"; diff: BranchDiff };

/**
 * The story branch's diff against the base (`GET /api/stories/:id/diff`), refetched when the branch
 * moves (a new push, a stage change), with a comment box that sends the story back to `current`
 * with the comment as the rework reason (the coder's next prompt carries it).
 */
export function DiffView({ item }: { item: Item }) {
  const [load, setLoad] = useState<Load>({ state: "loading" });
  // What changes when a new push may have happened.
  const version = `${item.branch ?? ""}|${item.stage}|${item.lastRun?.durationMs ?? ""}|${item.mergeCommit ?? ""}`;
  useEffect(() => {
    let live = true;
    const token = adminToken();
    fetch(`/api/stories/${encodeURIComponent(item.id)}/diff`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
      .then(async (res) => {
        const body = (await res.json().catch(() => ({}))) as Partial<BranchDiff> & { error?: string };
        if (!live) return;
        if (res.ok && Array.isArray(body.files) && typeof body.patch === "string") setLoad({ state: "ok", diff: body as BranchDiff });
        else if (res.ok) setLoad({ state: "error", message: "this server does not serve diffs" });
        else if (res.status === 404) setLoad({ state: "none", message: body.error ?? "no pushed branch yet" });
        else setLoad({ state: "error", message: body.error ?? `HTTP ${res.status}` });
      })
      .catch((e: Error) => live && setLoad({ state: "error", message: e.message }));
    return () => {
      live = false;
    };
  }, [item.id, version]);

  return (
    <section className="diff" aria-label="changes">
      <h3>changes</h3>
      {load.state === "loading" && <p className="muted">loading the diff…</p>}
      {load.state === "none" && <p className="muted">No diff yet: {load.message}.</p>}
      {load.state === "error" && (
        <p className="error" role="alert">
          The diff is unavailable: {load.message}
        </p>
      )}
      {load.state === "ok" && <DiffFiles diff={load.diff} />}
      {load.state === "ok" && <SendBack item={item} />}
    </section>
  );
}

function DiffFiles({ diff }: { diff: BranchDiff }) {
  const chunks = useMemo(() => splitPatch(diff.patch), [diff.patch]);
  const added = diff.files.reduce((n, f) => n + f.additions, 0);
  const removed = diff.files.reduce((n, f) => n + f.deletions, 0);
  let budget = MAX_HIGHLIGHTED_LINES;
  return (
    <>
      <p className="diff-summary">
        <code>{diff.branch}</code> against <code>{diff.base}</code>: {diff.files.length} file{diff.files.length === 1 ? "" : "s"},{" "}
        <span className="add">+{added}</span> <span className="del">−{removed}</span>
        {diff.truncated && <span className="muted"> (cut: too large to show whole)</span>}
      </p>
      <ul className="diff-files" aria-label="files changed">
        {diff.files.map((f) => (
          <li key={f.path}>
            <span className="path">{f.path}</span>{" "}
            {f.binary ? (
              <span className="muted">binary</span>
            ) : (
              <>
                <span className="add">+{f.additions}</span> <span className="del">−{f.deletions}</span>
              </>
            )}
          </li>
        ))}
      </ul>
      {chunks.map((c, n) => {
        const language = languageOf(c.path);
        const lines = renderLines(c.lines, language, budget);
        budget = Math.max(0, budget - c.lines.length);
        return (
          <details key={`${c.path}-${n}`} className="diff-file" open={n < OPEN_FILES}>
            <summary>
              <span className="path">{c.path}</span>
              {c.note && <span className="muted"> · {c.note}</span>}
            </summary>
            <div className="diff-lines" role="table" aria-label={`diff of ${c.path}`}>
              {lines}
            </div>
          </details>
        );
      })}
    </>
  );
}

interface Chunk {
  path: string;
  note?: string;
  lines: string[];
}

/** The unified diff cut per file; the header lines become the path and a note (new, deleted, binary). */
export function splitPatch(patch: string): Chunk[] {
  const out: Chunk[] = [];
  for (const part of patch.split(/^(?=diff --git )/m)) {
    if (!part.startsWith("diff --git ")) continue;
    const all = part.replace(/\n$/, "").split("\n");
    const firstHunk = all.findIndex((l) => l.startsWith("@@"));
    const header = firstHunk < 0 ? all : all.slice(0, firstHunk);
    const path =
      header.find((l) => l.startsWith("+++ b/"))?.slice(6) ??
      header.find((l) => l.startsWith("--- a/"))?.slice(6) ??
      /^diff --git a\/(.*) b\/\1$/.exec(all[0]!)?.[1] ??
      all[0]!.slice("diff --git ".length);
    const note = header.some((l) => l.startsWith("new file"))
      ? "new file"
      : header.some((l) => l.startsWith("deleted file"))
        ? "deleted"
        : header.some((l) => l.startsWith("Binary files"))
          ? "binary"
          : undefined;
    out.push({ path, note, lines: firstHunk < 0 ? [] : all.slice(firstHunk) });
  }
  return out;
}

function renderLines(lines: string[], language: string | undefined, budget: number) {
  let oldNo = 0;
  let newNo = 0;
  return lines.map((line, i) => {
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      return (
        <div key={i} className="dl dl-hunk" role="row">
          <span className="ln" />
          <span className="ln" />
          <code role="cell">{line}</code>
        </div>
      );
    }
    const sign = line[0] ?? " ";
    const kind = sign === "+" ? "add" : sign === "-" ? "del" : sign === "\\" ? "meta" : "ctx";
    const a = kind === "add" || kind === "meta" ? "" : String(oldNo++);
    const b = kind === "del" || kind === "meta" ? "" : String(newNo++);
    const code = line.slice(1);
    const html = kind === "meta" || i >= budget ? escapeHtml(code) : highlightLine(code, language);
    return (
      <div key={i} className={`dl dl-${kind}`} role="row">
        <span className="ln" aria-hidden>
          {a}
        </span>
        <span className="ln" aria-hidden>
          {b}
        </span>
        <code role="cell" data-sign={kind === "meta" ? "" : sign} dangerouslySetInnerHTML={{ __html: html }} />
      </div>
    );
  });
}

function SendBack({ item }: { item: Item }) {
  const [comment, setComment] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const allowed = REWORKABLE.has(item.stage);
  const send = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api("POST", `/api/stories/${encodeURIComponent(item.id)}/move`, { stage: "current", reason: comment.trim() });
      setComment("");
      setStatus({ ok: true, text: "sent back to current with your comment; the coder's next attempt gets it" });
    } catch (err) {
      setStatus({ ok: false, text: (err as Error).message });
    }
  };
  return (
    <form className="send-back" onSubmit={send} aria-label="send the story back">
      <label htmlFor={`comment-${item.id}`}>Review comment</label>
      <textarea
        id={`comment-${item.id}`}
        name="comment"
        value={comment}
        onChange={(e) => setComment(e.target.value)}
        placeholder={
          allowed ? "What should the coder change?" : `Stories in ${item.stage} cannot be sent back (only from qa, merge or done).`
        }
        disabled={!allowed}
      />
      <button type="submit" disabled={!allowed || !comment.trim()}>
        Send back to current
      </button>
      {status && (
        <p className={status.ok ? "ok" : "error"} role={status.ok ? "status" : "alert"}>
          {status.text}
        </p>
      )}
    </form>
  );
}
