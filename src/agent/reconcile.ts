import { runGatesChecked } from "../git/gate-check.js";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isItemId, featureBranch } from "../pipeline/item-id.js";
import { pushBranch, removeWorktreeIfSafe, worktreeCommitsAhead, type WorktreeState } from "../git/worktree.js";
import { git } from "../git/git.js";
import { advanceFromCurrent } from "./advance.js";
import type { JobContext } from "./job-context.js";

export interface ReconcileResult {
  pushed: string[];
  released: string[];
  removed: string[];
  /** Worktrees kept although their story is gone or finished, because they hold work. */
  kept: Array<{ id: string; state: WorktreeState }>;
}

/**
 * Startup: look at the worktrees a previous run left. A worktree whose story is archived or
 * unknown is removed only if that loses nothing (no uncommitted changes, nothing unpushed);
 * otherwise it is kept and reported. Items still claimed by this node: committed work that
 * passes the gates is pushed and the item advanced; otherwise the claim is released so the item
 * is picked up again (possibly by this node, which resumes in the kept worktree).
 */
export async function reconcileWorktrees(ctx: JobContext): Promise<ReconcileResult> {
  const out: ReconcileResult = { pushed: [], released: [], removed: [], kept: [] };
  // Forget worktrees whose directories vanished, so `worktree add` never trips over them later.
  await git(ctx.root, ["worktree", "prune"], { allowFail: true });
  const dir = join(ctx.root, ".huskies", "worktrees");
  if (!existsSync(dir)) return out;
  for (const id of readdirSync(dir)) {
    if (!isItemId(id)) continue;
    const item = ctx.pipeline.getItem(id);
    if (!item || item.stage === "archived") {
      const r = await removeWorktreeIfSafe(ctx.root, id);
      if (r.removed) out.removed.push(id);
      else if (r.state) out.kept.push({ id, state: r.state });
      continue;
    }
    const token = ctx.claims.tokenOf(id, ctx.nodeId);
    if (item.stage !== "current" || !token || token.stage !== "current") continue;
    const wt = join(dir, id);
    const branch = featureBranch(id);
    const ahead = await worktreeCommitsAhead(wt, ctx.baseBranch).catch(() => 0);
    const gates =
      ahead > 0
        ? await runGatesChecked(
            {
              cwd: wt,
              storyId: id,
              projectRoot: ctx.root,
              baseBranch: ctx.baseBranch,
              ownBranch: branch,
              mode: ctx.config.project.gates.sandbox,
              confinement: ctx.confinement,
            },
            ctx.config.project.gates.commands,
          ).catch(() => undefined)
        : undefined;
    // One worktree that cannot be pushed (origin unreachable) must not stop the others: its
    // claim is given back like unfinished work, and the commits stay in the kept worktree.
    // Never forced (no `supersede`): the claim seen here is from before the restart, and while
    // this node was down the claim may have lapsed to another node that pushed its own attempt
    // (the replica may not have heard yet). A non-fast-forward here most likely is that current
    // holder's branch, so the push fails and the claim is released; if it was only an earlier
    // holder's tip, the story comes back and the coder, holding a checked claim, replaces it.
    const pushed = gates?.ok
      ? await pushBranch(wt, branch).then(
          () => true,
          (err: Error) => void ctx.log.warn({ story: id, err: err.message }, "reconcile: could not push; releasing the claim"),
        )
      : false;
    if (ahead > 0 && pushed) {
      if (!advanceFromCurrent(ctx, token, ahead, { branch })) continue;
      ctx.logs.append(id, {
        node: ctx.nodeId,
        kind: "info",
        text: `reconciled on restart: pushed ${branch} (${ahead} commits) and advanced`,
      });
      ctx.log.info({ story: id, commits: ahead }, "reconciled: pushed committed work and advanced");
      out.pushed.push(id);
    } else if (ctx.claims.release(token)) {
      ctx.log.info({ story: id }, "reconciled: unfinished work released (worktree kept)");
      out.released.push(id);
    }
  }
  return out;
}
