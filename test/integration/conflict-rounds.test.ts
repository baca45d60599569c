import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, postJson, runCli } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import {
  coderRuns,
  landedOrder,
  MERGEMASTER_ONLY,
  OVERLAPPING_CODER,
  SHARED_FILE,
  SHARED_START,
  slotsOf,
  stageOf,
} from "../support/landing-kit.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let hooks: Server | undefined;
afterEach(async () => {
  hooks?.closeAllConnections();
  await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
  hooks = undefined;
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

function landingProject(over: Record<string, string | number | boolean> = {}, extraToml = ""): Project {
  return createProject({
    projectToml: projectToml({ default_qa: "server", max_coders: 1, ...over }) + extraToml,
    agentsToml: commandSlots(1, OVERLAPPING_CODER),
    files: { [SHARED_FILE]: SHARED_START },
  });
}

describe("conflict rounds: a conflict goes back to the session that wrote the code (issue 29.1)", () => {
  it("two stories coded from one base: the second lands after one round on its own node, merged not rebased, both lines kept", async () => {
    project = landingProject();
    const server = await cluster.server(project.root, ["--no-agent"]);
    const a = await cluster.agent(project.clone("a"), server.ws, ["--label", "coder-a"]);
    const b = await cluster.agent(project.clone("b"), server.ws, ["--label", "coder-b"]);
    const s1 = await postJson<Item>(`${server.http}/api/stories`, { name: "First line", stage: "current" });
    const s2 = await postJson<Item>(`${server.http}/api/stories`, { name: "Second line", stage: "current" });
    // Both coded from the same base before anything merges (no mergemaster yet).
    await stageOf(server, s1.id, "merge");
    await stageOf(server, s2.id, "merge");
    const author = new Map([s1.id, s2.id].map((id) => [id, coderRuns(a, id).length ? a : b]));
    expect(new Set(author.values()).size).toBe(2);

    const merger = await cluster.agent(slotsOf(project.clone("m"), MERGEMASTER_ONLY), server.ws, ["--label", "merger"]);
    const done = await Promise.all([s1, s2].map((s) => stageOf(server, s.id, "done")));
    expect(done.map((d) => d.blocked)).toEqual([null, null]);
    const [first, second] = landedOrder(project);
    const round = done.find((d) => d.id === second)!;
    expect(round).toMatchObject({ stage: "done", retries: 0, conflictRounds: 1 });
    expect(done.find((d) => d.id === first)!.conflictRounds).toBeUndefined();
    // The round ran on the node that wrote the story, and nowhere else.
    const home = author.get(second!)!;
    const other = home === a ? b : a;
    expect(coderRuns(home, second!).map((r) => r.conflictRound)).toEqual([undefined, 1]);
    expect(coderRuns(other, second!)).toEqual([]);
    expect(merger.logged("conflict round: back to its coder").map((l) => l.story)).toEqual([second]);

    // Both sides kept on main, no marker; the branch merged the base (a merge commit, never rewritten).
    const shared = git(project.origin, "show", `main:${SHARED_FILE}`);
    expect(shared.split("\n").sort()).toEqual(["# list", `line ${s1.id}`, `line ${s2.id}`].sort());
    expect(shared).not.toMatch(/^(<<<<<<<|=======|>>>>>>>)/m);
    const branchLog = git(project.origin, "log", "--format=%P", `feature/story-${second}`).split("\n");
    expect(branchLog.some((parents) => parents.split(" ").length === 2)).toBe(true);

    const show = (await runCli(["story", "show", second!], { env: { HUSKIES_SERVER: server.http } })).stdout;
    expect(show).toContain("conflict rounds: 1");
  }, 180_000);

  it("max_conflict_rounds = 0: the conflicting story is blocked in merge with failure.kind conflict, naming the story it met", async () => {
    // A webhook receiver: the block is announced (a `blocked` event with the kind), a round never is.
    const events: Array<{ event: string; story?: string; kind?: string }> = [];
    hooks = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c));
      req.on("end", () => {
        events.push(JSON.parse(raw) as { event: string });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks!.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hook`;
    project = landingProject({ max_conflict_rounds: 0 }, `\n[[notify]]\nurl = "${hookUrl}"\nevents = ["blocked", "merge_failed"]\n`);
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("a"), server.ws);
    await cluster.agent(project.clone("b"), server.ws);
    const s1 = await postJson<Item>(`${server.http}/api/stories`, { name: "First line", stage: "current" });
    const s2 = await postJson<Item>(`${server.http}/api/stories`, { name: "Second line", stage: "current" });
    await stageOf(server, s1.id, "merge");
    await stageOf(server, s2.id, "merge");
    await cluster.agent(slotsOf(project.clone("m"), MERGEMASTER_ONLY), server.ws);
    const ends = await Promise.all([s1, s2].map((s) => stageOf(server, s.id, "done")));
    const blocked = ends.find((e) => e.blocked)!;
    const landed = ends.find((e) => !e.blocked)!;
    expect(blocked).toMatchObject({ stage: "merge", retries: 0, failure: { kind: "conflict" }, claim: null });
    expect(blocked.blocked).toMatch(/max_conflict_rounds = 0/);
    expect(blocked.failure!.message).toContain(SHARED_FILE);
    expect(blocked.failure!.message).toContain(landed.id);
    expect(landedOrder(project)).toEqual([landed.id]);
    await waitFor(() => events.some((e) => e.event === "blocked" && e.story === blocked.id), "the blocked event", 30_000);
    expect(events.find((e) => e.event === "blocked")).toMatchObject({ story: blocked.id, kind: "conflict" });
    expect(events.filter((e) => e.event === "merge_failed")).toEqual([]);
    // Unblocking starts the rounds over (and this project sends none back, so it blocks again).
    await postJson(`${server.http}/api/stories/${blocked.id}/unblock`, {});
    await waitFor(async () => (await stageOf(server, blocked.id, "done")).blocked, "blocked again", 60_000);
  }, 180_000);
});
