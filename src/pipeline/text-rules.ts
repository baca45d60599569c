/**
 * Text people write into the pipeline (names, bodies, reasons). Control characters other than
 * newline and tab are refused at every write path (REST, MCP, CLI all go through
 * `OperatorActions`): a NUL cannot reach a process argument, a terminal escape cannot repaint an
 * operator's screen. A CR is accepted only as part of a CRLF line end, so text pasted from Windows
 * is not refused. Pure.
 */

/** Unicode category Cc: C0 controls, DEL and C1 controls. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** The first refused control character in `text`, or undefined. */
export function controlCharacter(text: string): { index: number; code: number } | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isControl(code) || code === 0x0a || code === 0x09) continue;
    if (code === 0x0d && text.charCodeAt(i + 1) === 0x0a) continue;
    return { index: i, code };
  }
  return undefined;
}

/** Why `found` is refused (the caller names the field). */
export function controlCharacterMessage(found: { index: number; code: number }): string {
  const u = `U+${found.code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `contains a control character (${u}) at position ${found.index}; only newline and tab are allowed`;
}

/**
 * `text` with every control character but newline and tab removed: for values read from the
 * document (any replica may have written them) on their way into a commit message or a log line.
 */
export function withoutControlCharacters(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isControl(code) || code === 0x0a || code === 0x09) out += text[i];
  }
  return out;
}
