import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isItemId, featureBranch } from "../pipeline/item-id.js";
import { isPushed, pushBranch, removeWorktree, worktreeCommitsAhead } from "../git/worktree.js";
import { runGates } from "../git/gates.js";
import { git } from "../git/git.js";
import type { JobContext } from "./job-context.js";

/**
 * Startup: look at the worktrees a previous run left. Work of items gone, done or archived is
 * removed. Items still claimed by this node: committed work that passes the gates is pushed and
 * the item advanced; otherwise the claim is released so the item is picked up again (possibly
 * by this node, which resumes in the kept worktree).
 */
export async function reconcileWorktrees(ctx: JobContext): Promise<{ pushed: string[]; released: string[]; removed: string[] }> {
  const out = { pushed: [] as string[], released: [] as string[], removed: [] as string[] };
  // Forget worktrees whose directories vanished, so `worktree add` never trips over them later.
  await git(ctx.root, ["worktree", "prune"], { allowFail: true });
  const dir = join(ctx.root, ".huskies", "worktrees");
  if (!existsSync(dir)) return out;
  for (const id of readdirSync(dir)) {
    if (!isItemId(id)) continue;
    const item = ctx.pipeline.getItem(id);
    if (!item || item.stage === "done" || item.stage === "archived") {
      await removeWorktree(ctx.root, id).catch(() => undefined);
      out.removed.push(id);
      continue;
    }
    if (item.stage !== "current" || item.claim?.node !== ctx.nodeId) continue;
    const wt = join(dir, id);
    const branch = featureBranch(id);
    const ahead = await worktreeCommitsAhead(wt, ctx.baseBranch).catch(() => 0);
    const gates = ahead > 0 ? await runGates(wt, ctx.config.project.gates.commands) : { ok: false, output: "" };
    if (ahead > 0 && gates.ok) {
      if (!(await isPushed(wt, branch))) await pushBranch(wt, branch);
      const qa = item.qa ?? ctx.config.project.default_qa;
      ctx.pipeline.move(id, "qa", { actor: "coder" }, { branch, logNode: ctx.nodeId });
      if (qa === "server") ctx.pipeline.move(id, "merge", { actor: "system", commitsAhead: ahead });
      ctx.logs.append(id, { node: ctx.nodeId, kind: "info", text: `reconciled on restart: pushed ${branch} (${ahead} commits) and advanced` });
      ctx.log.info({ story: id, commits: ahead }, "reconciled: pushed committed work and advanced");
      out.pushed.push(id);
    } else {
      ctx.pipeline.update(id, { claim: null });
      ctx.log.info({ story: id }, "reconciled: unfinished work released (worktree kept)");
      out.released.push(id);
    }
  }
  return out;
}
