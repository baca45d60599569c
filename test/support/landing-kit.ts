import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getJson, type NodeProc } from "./cluster.js";
import { commandSlots } from "./coders.js";
import { git, type Project } from "./git-fixture.js";
import { waitFor } from "./wait-for.js";
import type { Item } from "../../src/state/item.js";

/**
 * Issue 29's kit: `command` coders that insert their line at the same place in `shared.txt` (so
 * any two stories coded from the same base conflict), and in a conflict round merge the base with
 * git and resolve by keeping both sides, as a competent agent would.
 */
export const SHARED_FILE = "shared.txt";
export const SHARED_START = "# list\n";

export const OVERLAPPING_CODER = [
  "set -e",
  'if [ -n "$HUSKIES_CONFLICT_ROUND" ]; then',
  `  git merge --no-edit "$HUSKIES_CONFLICT_BASE" >/dev/null 2>&1 || { sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d' ${SHARED_FILE} && git add -A && git commit -q --no-edit; }`,
  "else",
  `  sed -i "/^# list$/a line $HUSKIES_STORY_ID" ${SHARED_FILE} && git add -A && git commit -qm "work on $HUSKIES_STORY_ID"`,
  "fi",
].join("\n");

/** Give a clone its own agents.toml (what that machine runs), e.g. only a mergemaster. */
export function slotsOf(root: string, agentsToml: string): string {
  writeFileSync(join(root, ".huskies", "agents.toml"), agentsToml);
  return root;
}

export const MERGEMASTER_ONLY = commandSlots(1, "true", "mergemaster", "merger");

export async function story(server: NodeProc, id: string): Promise<Item> {
  return getJson<Item>(`${server.http}/api/stories/${id}`);
}

export async function stageOf(server: NodeProc, id: string, stage: string, timeoutMs = 90_000): Promise<Item> {
  return waitFor(
    async () => {
      const s = await story(server, id);
      return s.stage === stage || s.blocked ? s : undefined;
    },
    `${id} in ${stage}`,
    timeoutMs,
    100,
  );
}

/** Stories on origin's main, oldest first, by their squash commits' trailers. */
export function landedOrder(p: Project): string[] {
  return git(p.origin, "log", "--reverse", "--format=%(trailers:key=Huskies-Story,valueonly)", "main")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The coder runs an agent logged for a story (with the round they were for). */
export function coderRuns(agent: NodeProc, id: string): Array<{ conflictRound?: number; resume?: string }> {
  return agent
    .logged("agent invocation")
    .filter((l) => l.story === id && l.role === "coder")
    .map((l) => ({ conflictRound: l.conflictRound as number | undefined, resume: l.resume as string | undefined }));
}
