/** Story markdown: a title, the user story, and acceptance criteria as `- [ ]` lines. */

export interface Criterion {
  text: string;
  done: boolean;
}

const CRITERION = /^\s*[-*] \[( |x|X)\] (.*)$/;

export function renderStory(input: { name: string; body?: string; criteria?: string[] }): string {
  const parts = [`# ${oneLine(input.name)}`, ""];
  if (input.body?.trim()) parts.push(input.body.trim(), "");
  if (input.criteria?.length) {
    parts.push("## Acceptance criteria", "", ...input.criteria.map((c) => `- [ ] ${oneLine(c)}`), "");
  }
  return parts.join("\n");
}

export function parseCriteria(markdown: string): Criterion[] {
  const out: Criterion[] = [];
  for (const line of markdown.split("\n")) {
    const m = CRITERION.exec(line);
    if (m) out.push({ done: m[1] !== " ", text: m[2]!.trim() });
  }
  return out;
}

/** Tick (or untick) the `index`-th criterion (0-based); throws if there is no such criterion. */
export function setCriterion(markdown: string, index: number, done: boolean): string {
  let seen = -1;
  const lines = markdown.split("\n").map((line) => {
    const m = CRITERION.exec(line);
    if (!m) return line;
    seen += 1;
    return seen === index ? line.replace(/\[( |x|X)\]/, done ? "[x]" : "[ ]") : line;
  });
  if (index < 0 || index > seen) throw new RangeError(`no criterion ${index + 1} (story has ${seen + 1})`);
  return lines.join("\n");
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}
