import { createContext, memo, useContext, useEffect, useState, type ComponentProps } from "react";
import Markdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

/** The criterion line syntax the server ticks (src/pipeline/story-markdown.ts). */
const CRITERION = /^\s*[-*] \[( |x|X)\] (.*)$/;

/** Ticks a criterion; resolves false when the server refused (the box then shows the document's state). */
type OnTick = (index: number, done: boolean) => Promise<boolean>;

/** The source lines and the tick action, for the components below. */
const Source = createContext<{ lines: string[]; onTick: OnTick }>({ lines: [], onTick: async () => false });
/** Which criterion (0-based, as the tick API counts) the enclosing task-list item is. */
const CriterionOf = createContext<{ index: number; text: string } | undefined>(undefined);

function criterionAt(lines: string[], line: number): { index: number; text: string } | undefined {
  const m = CRITERION.exec(lines[line - 1] ?? "");
  if (!m) return undefined;
  let index = 0;
  for (let i = 0; i < line - 1; i++) if (CRITERION.test(lines[i]!)) index++;
  return { index, text: m[2]!.trim() };
}

// Defined once: components recreated on every render would remount the whole text each time.
const COMPONENTS: Components = {
  li({ node, children, ...props }) {
    const { lines } = useContext(Source);
    const task = String(props.className ?? "").includes("task-list-item");
    const line = node?.position?.start.line;
    return (
      <CriterionOf.Provider value={task && line ? criterionAt(lines, line) : undefined}>
        <li {...props}>{children}</li>
      </CriterionOf.Provider>
    );
  },
  input({ node: _node, ...props }) {
    return props.type === "checkbox" ? <Checkbox {...props} /> : <input {...props} />;
  },
  a({ node: _node, ...props }) {
    return <a {...props} target="_blank" rel="noopener noreferrer" />;
  },
};

/**
 * A story's markdown through react-markdown + GFM. Raw HTML is not rendered (react-markdown's
 * default) and link URLs pass its safe-protocol filter. Task-list checkboxes stay clickable: each
 * maps to its line in the source and is numbered the way the server's `setCriterion` numbers
 * criterion lines, so a tick always lands on the line that was clicked.
 */
export const StoryMarkdown = memo(function StoryMarkdown({ body, onTick }: { body: string; onTick: OnTick }) {
  return (
    <Source.Provider value={{ lines: body.split("\n"), onTick }}>
      <div className="markdown">
        <Markdown remarkPlugins={[remarkGfm]} components={COMPONENTS}>
          {body}
        </Markdown>
      </div>
    </Source.Provider>
  );
});

function Checkbox({ checked, disabled: _disabled, ...props }: ComponentProps<"input">) {
  const criterion = useContext(CriterionOf);
  const { onTick } = useContext(Source);
  // Shown at once; the document's state takes over when the tick comes back through sync.
  const [optimistic, setOptimistic] = useState<boolean | undefined>(undefined);
  useEffect(() => setOptimistic(undefined), [checked]);
  if (!criterion) return <input {...props} type="checkbox" checked={!!checked} disabled readOnly />;
  return (
    <input
      {...props}
      type="checkbox"
      checked={optimistic ?? !!checked}
      className="criterion-box"
      data-criterion={criterion.index}
      aria-label={criterion.text}
      onChange={(e) => {
        const done = e.target.checked;
        setOptimistic(done);
        void onTick(criterion.index, done).then((ok) => {
          if (!ok) setOptimistic(undefined);
        });
      }}
    />
  );
}
