import { withoutControlCharacters } from "./text-rules.js";

/**
 * Squash commits on the base branch say which story they merge, in a git trailer, so "is this
 * story merged?" is answered by what is on origin rather than by what the document remembers
 * (a mergemaster killed between its push and its write to the document). Pure.
 */
export const STORY_TRAILER = "Huskies-Story";

/** The squash commit's message: subject, a line on where it came from, and the trailer. */
export function squashMessage(id: string, name: string, branch: string): string {
  // The name comes from the document (any replica may have written it): no control characters,
  // one line. Node refuses a NUL in a process argument, and git would keep an escape sequence.
  const subject = withoutControlCharacters(name).replace(/\s+/g, " ").trim().slice(0, 120);
  return `${id}: ${subject || id}\n\nSquash-merge of ${branch} by huskies.\n\n${STORY_TRAILER}: ${id}\n`;
}

/** A `git log --grep` pattern (extended regex, matched per line) for the story's trailer. */
export function trailerPattern(id: string): string {
  // Ids are [0-9a-z_] (item-id.ts), so they need no escaping; the anchors keep 1_story_a from
  // matching 1_story_ab.
  return `^${STORY_TRAILER}: ${id}$`;
}

/** The story ids a commit message names in its trailers. */
export function trailerStories(message: string): string[] {
  const out: string[] = [];
  for (const line of message.split("\n")) {
    const m = /^Huskies-Story:\s*(\S+)\s*$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
