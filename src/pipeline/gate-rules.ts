/**
 * Gates check a tree; they never add to a commit (rule 3). A gate that rewrites tracked files (a
 * formatter in write mode, a build that regenerates a checked-in file) fails with the list of
 * files, because what was tested is then not what would be committed; untracked files a gate
 * leaves (build output, reports) are never committed. Pure.
 */

/** Tracked files changed after the gates that were not changed before them. */
export function changedByGates(before: readonly string[], after: readonly string[]): string[] {
  const was = new Set(before);
  return [...new Set(after)].filter((f) => !was.has(f)).sort();
}

/** The failure text: fed back to the coder, shown on the story. */
export function gateChangedFilesFailure(files: readonly string[]): string {
  const shown = files.slice(0, 50);
  const more = files.length > shown.length ? `\n… and ${files.length - shown.length} more` : "";
  return `gates changed tracked files (gates must only check; commit what they would change):\n${shown.map((f) => `  ${f}`).join("\n")}${more}`;
}
