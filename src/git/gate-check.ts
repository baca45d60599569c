import { changedByGates, gateChangedFilesFailure } from "../pipeline/gate-rules.js";
import { runGates, type GateResult, type GateRun } from "./gates.js";
import { git } from "./git.js";

/** Tracked files whose working copy differs from the index. */
async function unstaged(cwd: string): Promise<string[]> {
  // -z: names exactly as they are (no quoting), so they can be handed back to git.
  return (await git(cwd, ["diff", "--name-only", "-z"])).stdout.split("\0").filter(Boolean);
}

/**
 * Run the gates in `cwd` and hold them to "gates only check" (rule 3, `gate-rules.ts`): a gate
 * that changes tracked files fails with their list (and those files are restored). With `dropUntracked` (the merge workspace,
 * which huskies commits from), untracked files the gates left are removed afterwards, so a later
 * staging of the mergemaster agent's resolution cannot pick them up; ignored files stay (they are
 * never staged). The coder's worktree keeps everything: huskies only pushes the coder's commits.
 */
export async function runGatesChecked(
  run: GateRun,
  commands: readonly string[],
  opts: { dropUntracked?: boolean } = {},
): Promise<GateResult & { changed?: string[] }> {
  if (commands.length === 0) return { ok: true, output: "" };
  const cwd = run.cwd;
  const before = await unstaged(cwd);
  // Confined like every process a story controls (src/confinement/).
  const result = await runGates(commands, run);
  const changed = changedByGates(before, await unstaged(cwd));
  // Put back what the gates rewrote (only files that were clean before them), so the next attempt
  // starts from what was committed and the failure names the files.
  if (changed.length) await git(cwd, ["checkout", "--", ...changed]);
  if (opts.dropUntracked) await git(cwd, ["clean", "-fdq"]);
  if (!result.ok) return changed.length ? { ...result, changed } : result;
  if (changed.length) return { ok: false, output: gateChangedFilesFailure(changed), changed };
  return result;
}
