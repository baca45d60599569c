/**
 * Why an item failed, for machines (issue 24 rule 10): `failure` on an item is
 * `{kind, message}`, the message being what a person (or the coder's next prompt) reads.
 */
export const FAILURE_KINDS = [
  /** A gate failed (in the worktree or on the merged tree). */
  "gates",
  /** The branch does not merge onto the base. */
  "conflict",
  /** origin refused a push (the remote's own message is in the text). */
  "push_rejected",
  /** The coder left no commits on its branch. */
  "no_commits",
  /** The coding agent's run failed. */
  "runtime",
  /** QA found problems, or could not check. */
  "qa",
  /** A person sent the story back with a reason. */
  "rework",
  /** The node could not work (credentials, limits, disk, origin): no retry spent. */
  "node_trouble",
  /** Node trouble on two different nodes: the story itself seems to cause it. */
  "node_trouble_everywhere",
  /** A run stopped at its budget. */
  "budget",
  /** The holder lost the claim while working. */
  "lost",
  /** Anything older releases wrote that says nothing more. */
  "other",
] as const;

export type FailureKind = (typeof FAILURE_KINDS)[number];

export function isFailureKind(v: unknown): v is FailureKind {
  return typeof v === "string" && (FAILURE_KINDS as readonly string[]).includes(v);
}

/**
 * The kind of a failure written as plain text by a release before kinds (schema 1), from the
 * phrases those releases used. Used by the schema-2 migration and by readers meeting an old writer.
 */
export function kindOfFailureText(text: string): FailureKind {
  const t = text.trimStart();
  if (/^gate `|^gates failed/.test(t)) return "gates";
  if (/^QA\b/.test(t)) return "qa";
  if (/^push of .* was rejected|^could not push /.test(t)) return "push_rejected";
  if (/^no commits on |^merge refused: .*(nothing|no commits)/.test(t)) return "no_commits";
  if (/conflict/i.test(t.split("\n")[0]!)) return "conflict";
  if (/^the coding agent failed|^the .* agent failed/.test(t)) return "runtime";
  if (/^claim lost/.test(t)) return "lost";
  return "other";
}
