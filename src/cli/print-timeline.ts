import { resultStats, type TimelineEntry } from "../runtime/log-timeline.js";

/** ANSI colours, used only when stdout is a terminal. */
const C = { dim: 2, bold: 1, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const;
type Colour = keyof typeof C;

/** Multi-line text on one line: the terminal form is one line per entry, greppable. */
function oneLine(s: string): string {
  return s
    .replace(/\s*\n\s*/g, " ⏎ ")
    .replace(/\t/g, " ")
    .trim();
}

function clock(t: number): string {
  if (!t) return "        ";
  const d = new Date(t);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** One timeline entry as one terminal line: `HH:MM:SS  label  text`. */
export function formatEntry(e: TimelineEntry, opts: { color: boolean }): string {
  const paint = (c: Colour | Colour[], s: string) => {
    if (!opts.color) return s;
    const codes = (Array.isArray(c) ? c : [c]).map((k) => C[k]).join(";");
    return `\x1b[${codes}m${s}\x1b[0m`;
  };
  const at = paint("dim", clock(e.t));
  const label = (s: string, c: Colour | Colour[]) => paint(c, s.padEnd(6));
  switch (e.kind) {
    case "run":
      return `${at} ${paint(["bold", "blue"], `▶ run: ${e.role} ${e.slot} (${e.runtime}) on node ${e.node.slice(0, 12)}`)}`;
    case "text":
      return `${at}   ${label("says", "cyan")} ${oneLine(e.text)}`;
    case "tool":
      return `${at}   ${label(e.name, ["bold", "magenta"])} ${oneLine(e.input)}`;
    case "tool_result": {
      const more = e.moreLines ? paint("dim", ` (+${e.moreLines} lines)`) : "";
      return `${at}     ${e.error ? paint("red", `✗ ${oneLine(e.text) || "error"}`) : paint("dim", `↳ ${oneLine(e.text) || "(no output)"}`)}${more}`;
    }
    case "error":
      return `${at}   ${label("error", ["bold", "red"])} ${paint("red", oneLine(e.text))}`;
    case "info":
      return `${at}   ${label("note", "dim")} ${oneLine(e.text)}`;
    case "output":
      return `${at}   ${label(e.stream === "stderr" ? "stderr" : "out", e.stream === "stderr" ? "yellow" : "dim")} ${e.text}`;
    case "result": {
      const stats = resultStats(e);
      const head = e.ok ? paint(["bold", "green"], "✓ done") : paint(["bold", "red"], "✗ failed");
      return [at, " ", head, stats && paint("dim", `(${stats})`), oneLine(e.text)].filter(Boolean).join(" ");
    }
  }
}
