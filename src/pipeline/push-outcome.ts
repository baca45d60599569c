/**
 * What a failed `git push` means, read from git's stderr (pure). Only a lost race is worth trying
 * again from the new base; a remote that refused the push (a hook, a protected branch, missing
 * rights) will refuse it again, and its own words are what a person needs to act.
 */
export type PushRefusal =
  /** Someone else moved the branch first (`[rejected] … (fetch first | non-fast-forward)`). */
  | { kind: "race" }
  /** The remote answered no (`[remote rejected] … (hook declined)`); `message` is the remote's own text. */
  | { kind: "refused"; message: string }
  /** Neither: git could not push for another reason (unreachable, local trouble). */
  | { kind: "other" };

/** The remote's own text is kept whole up to this length (a hook may explain at some length). */
const MAX_MESSAGE = 2000;

// eslint-disable-next-line no-control-regex -- terminal escapes and control characters from the remote's output are dropped on purpose
const TERMINAL_NOISE = /\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]/g;

export function classifyPushError(stderr: string): PushRefusal {
  const lines = stderr.replace(TERMINAL_NOISE, "").split("\n");
  const refused = lines.find((l) => /^\s*!\s*\[remote rejected\]/.test(l));
  if (refused) {
    const remote = lines
      .filter((l) => /^remote:/.test(l))
      .map((l) => l.replace(/^remote:\s?/, "").trimEnd())
      .filter((l) => l.trim() !== "");
    const why = /\(([^)]*)\)\s*$/.exec(refused)?.[1];
    const message = [...remote, why ? `(${why})` : refused.trim()].join("\n").slice(0, MAX_MESSAGE);
    return { kind: "refused", message };
  }
  if (lines.some((l) => /^\s*!\s*\[rejected\].*\((fetch first|non-fast-forward|stale info)\)/.test(l))) return { kind: "race" };
  return { kind: "other" };
}
