import { createContext, useContext, useEffect, useState, type ComponentProps } from "react";
import Markdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

/** The criterion line syntax the server ticks (src/pipeline/story-markdown.ts). */
const CRITERION = /^\s*[-*] \[( |x|X)\] (.*)$/;

/** Which criterion (0-based, as the tick API counts) a task-list checkbox is; undefined if not one. */
const CriterionOf = createContext<{ index: number; text: string } | undefined>(undefined);

/**
 * A story's markdown through react-markdown + GFM. Raw HTML is not rendered (react-markdown's
 * default), and link URLs pass its safe-protocol filter. Task-list checkboxes stay clickable:
 * each maps to its line in the source, so the index matches the server's criterion numbering
 * even with a `- [ ]` line inside a code block above it.
 */
/** Ticks a criterion; resolves false when the server refused (the box then shows the document's state). */
type OnTick = (index: number, done: boolean) => Promise<boolean>;

export function StoryMarkdown({ body, onTick }: { body: string; onTick: OnTick }) {
  const lines = body.split("\n");
  const criterionAt = (line: number): { index: number; text: string } | undefined => {
    const m = CRITERION.exec(lines[line - 1] ?? "");
    if (!m) return undefined;
    let index = 0;
    for (let i = 0; i < line - 1; i++) if (CRITERION.test(lines[i]!)) index++;
    return { index, text: m[2]!.trim() };
  };
  const components: Components = {
    li({ node, children, ...props }) {
      const task = String(props.className ?? "").includes("task-list-item");
      const line = node?.position?.start.line;
      return (
        <CriterionOf.Provider value={task && line ? criterionAt(line) : undefined}>
          <li {...props}>{children}</li>
        </CriterionOf.Provider>
      );
    },
    input({ node: _node, ...props }) {
      return props.type === "checkbox" ? <Checkbox {...props} onTick={onTick} /> : <input {...props} />;
    },
    a({ node: _node, ...props }) {
      return <a {...props} target="_blank" rel="noopener noreferrer" />;
    },
  };
  return (
    <div className="markdown">
      <Markdown remarkPlugins={[remarkGfm]} components={components}>{body}</Markdown>
    </div>
  );
}

function Checkbox({ checked, onTick, disabled: _disabled, ...props }: ComponentProps<"input"> & { onTick: OnTick }) {
  const criterion = useContext(CriterionOf);
  // Shown at once; the document's state takes over when the tick comes back through sync.
  const [optimistic, setOptimistic] = useState<boolean | undefined>(undefined);
  useEffect(() => setOptimistic(undefined), [checked]);
  if (!criterion) return <input {...props} type="checkbox" checked={!!checked} disabled readOnly />;
  return (
    <input
      {...props} type="checkbox" checked={optimistic ?? !!checked} className="criterion-box" data-criterion={criterion.index}
      aria-label={criterion.text}
      onChange={(e) => {
        const done = e.target.checked;
        setOptimistic(done);
        void onTick(criterion.index, done).then((ok) => { if (!ok) setOptimistic(undefined); });
      }}
    />
  );
}
