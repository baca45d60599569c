import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { landedOrder, MERGEMASTER_ONLY, slotsOf, stageOf, story } from "../support/landing-kit.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

/** A coder that writes under `src/api/` for stories named "Api …" and under `docs/` otherwise. */
const FILE_CODER = [
  "set -e",
  'case "$HUSKIES_STORY_ID" in *_api_*) d=src/api ;; *) d=docs ;; esac',
  'mkdir -p "$d" && echo "work of $HUSKIES_STORY_ID" > "$d/$HUSKIES_STORY_ID.txt"',
  'git add -A && git commit -qm "work on $HUSKIES_STORY_ID"',
].join("\n");

/** The order in which a node's coder slots started stories (first runs only). */
function codedOrder(agent: NodeProc): string[] {
  const ids = agent
    .logged("agent invocation")
    .filter((l) => l.role === "coder")
    .map((l) => String(l.story));
  return ids.filter((id, n) => ids.indexOf(id) === n);
}

interface QueueRow {
  id: string;
  position: number;
  step: string;
  name: string;
}

/**
 * One coder node; story A (touches `src/api/**`) is coded and waits in `merge` (no mergemaster
 * yet), so it is in flight. With the coder paused, B (also `src/api/**`) and C (`docs/**`) are
 * filed; then the coder is resumed and asks for work.
 */
async function scenario() {
  project = createProject({
    projectToml: projectToml({ default_qa: "server", max_coders: 1 }),
    agentsToml: commandSlots(1, FILE_CODER),
  });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const coder = await cluster.agent(project.clone("coder"), server.ws, ["--label", "coder"]);
  const a = await postJson<Item>(`${server.http}/api/stories`, { name: "Api one", stage: "current", touches: ["src/api/**"] });
  expect((await stageOf(server, a.id, "merge")).blocked).toBeNull();

  await postJson(`${server.http}/api/nodes/${coder.nodeId}/pause`, { reason: "filing" });
  await waitFor(
    async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === coder.nodeId)?.paused,
    "coder paused",
  );
  const b = await postJson<Item>(`${server.http}/api/stories`, { name: "Api two", stage: "current", touches: ["src/api/**"] });
  const c = await postJson<Item>(`${server.http}/api/stories`, { name: "Docs three", stage: "current", touches: ["docs/**"] });
  return { server, coder, a, b, c };
}

describe("collision-avoiding grants (issue 29.2)", () => {
  it("a coder asking for work gets a story that overlaps nothing in flight first; the overlapping one says why it waits, then is granted (no starvation); merges go in queue order", async () => {
    const { server, coder, a, b, c } = await scenario();
    // B overlaps A (in merge, its pushed branch wrote src/api/…); C overlaps nothing. Written by
    // the rendezvous while no one asks, and shown by `story show` (and the board's card).
    const waiting = await waitFor(async () => (await story(server, b.id)).overlaps, "B to say why it waits");
    expect(waiting.story).toBe(a.id);
    expect(waiting.path).toMatch(/^src\/api\//);
    expect((await story(server, c.id)).overlaps).toBeUndefined();
    const show = (await runCli(["story", "show", b.id], { env: { HUSKIES_SERVER: server.http } })).stdout;
    expect(show).toContain(`waits: overlaps ${a.id} on src/api/`);

    await postJson(`${server.http}/api/nodes/${coder.nodeId}/resume`, {});
    await stageOf(server, c.id, "merge");
    const bInMerge = await stageOf(server, b.id, "merge");
    expect(bInMerge.blocked).toBeNull();
    expect(bInMerge.overlaps).toBeUndefined();
    expect(codedOrder(coder)).toEqual([a.id, c.id, b.id]);

    // The merge queue: the order each entered `merge`, through REST and `huskies status`.
    const queue = await getJson<QueueRow[]>(`${server.http}/api/merge-queue`);
    expect(queue.map((q) => [q.position, q.id, q.step])).toEqual([
      [1, a.id, "waiting"],
      [2, c.id, "waiting"],
      [3, b.id, "waiting"],
    ]);
    expect(queue[2]!.name).toBe("Api two");
    const status = (await runCli(["status"], { env: { HUSKIES_SERVER: server.http } })).stdout;
    expect(status).toContain(`merge queue (3)\n  1. ${a.id}  waiting\n  2. ${c.id}  waiting\n  3. ${b.id}  waiting`);

    // A mergemaster lands them in that order.
    await cluster.agent(slotsOf(project!.clone("m"), MERGEMASTER_ONLY), server.ws, ["--label", "merger"]);
    for (const s of [a, b, c]) expect((await stageOf(server, s.id, "done")).blocked).toBeNull();
    expect(landedOrder(project!)).toEqual([a.id, c.id, b.id]);
    expect(await getJson<QueueRow[]>(`${server.http}/api/merge-queue`)).toEqual([]);
  }, 240_000);
});
