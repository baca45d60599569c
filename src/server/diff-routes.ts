import { Hono } from "hono";
import { isItemId } from "../pipeline/item-id.js";
import { branchDiff, DiffUnavailable, type BranchDiff } from "../git/branch-diff.js";
import { logger } from "../log.js";

export interface DiffRouteDeps {
  /** The server's checkout (it has the `origin` the agents push to). */
  root: string;
  baseBranch: () => Promise<string> | string;
  /** Whether the story exists (unknown ids are a 404 before git runs). */
  hasStory: (id: string) => boolean;
  /** For tests; defaults to `branchDiff`. */
  diff?: typeof branchDiff;
}

/**
 * `GET /stories/:id/diff` → `{base, branch, files: [{path, additions, deletions}], patch, truncated}`;
 * 404 while the story's branch is not pushed. Mount under `/api` next to the REST API:
 * `app.route("/api", diffRoutes(deps))`.
 */
export function diffRoutes(deps: DiffRouteDeps): Hono {
  const app = new Hono();
  const log = logger("git");
  const diff = deps.diff ?? branchDiff;
  // A board open on several screens asks for the same diff at once: one fetch serves them all.
  const inFlight = new Map<string, Promise<BranchDiff | undefined>>();

  app.get("/stories/:id/diff", async (c) => {
    const id = c.req.param("id");
    if (!isItemId(id)) return c.json({ error: `invalid story id ${JSON.stringify(id)}` }, 400);
    if (!deps.hasStory(id)) return c.json({ error: `unknown story ${id}` }, 404);
    let pending = inFlight.get(id);
    if (!pending) {
      pending = Promise.resolve(deps.baseBranch()).then((base) => diff(deps.root, base, id));
      inFlight.set(id, pending);
      void pending.finally(() => inFlight.delete(id)).catch(() => undefined);
    }
    try {
      const result = await pending;
      if (!result) return c.json({ error: `the branch of ${id} is not pushed yet` }, 404);
      return c.json(result);
    } catch (err) {
      log.warn({ story: id, err: (err as Error).message }, "diff unavailable");
      const message = err instanceof DiffUnavailable ? err.message : "the diff could not be computed";
      return c.json({ error: message }, 503);
    }
  });
  return app;
}
