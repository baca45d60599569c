import { useEffect, useMemo, useState } from "react";
import type { BranchDiff } from "../../src/git/branch-diff";
import type { Item } from "./types";
import { adminToken } from "./use-pipeline";
import { languageOf } from "./highlight";
import { DiffLines } from "./review/DiffLines";
import { ReviewForm } from "./review/ReviewForm";
import type { ReviewDraft } from "./review/use-review-draft";

/** Highlighting is per line; past this many lines the rest of a large diff is shown plain. */
const MAX_HIGHLIGHTED_LINES = 4000;
/** Files shown open at first; the rest start folded. */
const OPEN_FILES = 12;

type Load =
  { state: "loading" } | { state: "none"; message: string } | { state: "error"; message: string } | { state: "ok"; diff: BranchDiff };

/**
 * The story branch's diff against the base (`GET /api/stories/:id/diff`), refetched when the branch
 * moves (a new push, a stage change). A person comments on its lines and sends the comments back
 * together with an overall one (review/): the coder's next prompt lists them by file and line.
 */
export function DiffView({ item, draft }: { item: Item; draft: ReviewDraft }) {
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
      {load.state === "ok" && <DiffFiles diff={load.diff} draft={draft} />}
      {load.state === "ok" && <ReviewForm item={item} draft={draft} />}
    </section>
  );
}

function DiffFiles({ diff, draft }: { diff: BranchDiff; draft: ReviewDraft }) {
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
        const fileBudget = budget;
        budget = Math.max(0, budget - c.lines.length);
        return (
          <details key={`${c.path}-${n}`} className="diff-file" open={n < OPEN_FILES}>
            <summary>
              <span className="path">{c.path}</span>
              {c.note && <span className="muted"> · {c.note}</span>}
            </summary>
            <DiffLines path={c.path} lines={c.lines} language={language} budget={fileBudget} draft={draft} />
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
