import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** A mergemaster slot whose agent does nothing: conflicts stay unresolved. */
const IDLE_MERGEMASTER = commandSlots(1, "true", "mergemaster", "mergemaster");
const item = (server: NodeProc, id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);

/**
 * Poll the stories' stages one request at a time (so answers arrive in order); `stop` takes one
 * last reading, so the final stage is seen even if it came just before the stop.
 */
function trackStages(server: NodeProc, ids: string[]): { seen: Map<string, string[]>; stop(): Promise<void> } {
  const seen = new Map<string, string[]>(ids.map((id) => [id, []]));
  const poll = async () => {
    for (const i of await getJson<Item[]>(`${server.http}/api/stories`).catch(() => [] as Item[])) {
      const list = seen.get(i.id);
      if (list && list.at(-1) !== i.stage) list.push(i.stage);
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await poll();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
      await poll();
    },
  };
}

describe("the whole pipeline", () => {
  it("server QA: backlog → current → qa → merge → done, one squash commit per story on origin", async () => {
    project = createProject({
      projectToml: projectToml({ default_qa: "server" }, ['test -n "$(ls story-*.txt)"']),
      agentsToml: commandSlots(1) + IDLE_MERGEMASTER,
    });
    const server = await cluster.server(project.root); // runs the mergemaster (and a coder)
    await cluster.agent(project.clone("agent"), server.ws);
    const ids: string[] = [];
    for (const name of ["First change", "Second change", "Third change"]) {
      const created = await postJson<Item>(`${server.http}/api/stories`, { name });
      expect(created.stage).toBe("backlog");
      ids.push(created.id);
    }
    const track = trackStages(server, ids);
    await waitFor(
      async () => (await Promise.all(ids.map((id) => item(server, id)))).every((i) => i.stage === "done"),
      "all stories done",
      90_000,
      200,
    );
    await track.stop();

    git(project.root, "fetch", "-q", "origin");
    const log = git(project.root, "log", "--format=%H %s", "origin/main").split("\n");
    for (const id of ids) {
      const done = await item(server, id);
      expect(done.mergeCommit).toMatch(/^[0-9a-f]{40}$/);
      expect(log).toContainEqual(expect.stringMatching(new RegExp(`^${done.mergeCommit} ${id}: `)));
      expect(git(project.root, "ls-tree", "--name-only", done.mergeCommit!)).toContain(`story-${id}.txt`);
      // A squash: one parent, and it is on the base branch.
      expect(git(project.root, "rev-list", "--parents", "-n", "1", done.mergeCommit!).split(" ")).toHaveLength(2);
      // Whatever the poller caught is in pipeline order and ends in done.
      const order = ["backlog", "current", "qa", "merge", "done"];
      const stages = track.seen.get(id)!.map((st) => order.indexOf(st));
      expect(stages).toEqual([...stages].sort((x, y) => x - y));
      expect(stages.at(-1)).toBe(4);
    }
    expect(git(project.root, "ls-tree", "--name-only", "origin/main")).toEqual(expect.stringContaining(`story-${ids[2]}.txt`));
  });

  it("a merge conflict goes back to its coder as a conflict round, and is blocked with kind conflict after max_conflict_rounds", async () => {
    // The coder rewrites the same line every time and never merges the base: its round cannot help.
    const sameLine =
      'echo "$HUSKIES_STORY_ID $(date +%s%N)" > shared.txt && git add -A && git commit -qm "edit shared.txt for $HUSKIES_STORY_ID"';
    project = createProject({
      projectToml: projectToml({ default_qa: "server", max_retries: 2, max_conflict_rounds: 1, auto_promote: false }),
      agentsToml: commandSlots(1, sameLine) + IDLE_MERGEMASTER,
      files: { "shared.txt": "original\n" },
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("agent"), server.ws);
    const a = await postJson<Item>(`${server.http}/api/stories`, { name: "Edit A", stage: "current" });
    const b = await postJson<Item>(`${server.http}/api/stories`, { name: "Edit B", stage: "current" });
    const blocked = await waitFor(
      async () => {
        const [ia, ib] = await Promise.all([item(server, a.id), item(server, b.id)]);
        const loser = [ia, ib].find((i) => i.blocked);
        const winner = [ia, ib].find((i) => i.stage === "done");
        return loser && winner ? loser : undefined;
      },
      "one story merged and the other blocked",
      90_000,
      200,
    );
    // The coder had its round; a round that leaves the branch conflicting is its failed attempt
    // (retries, up to max_retries), and the story ends blocked with the kind.
    expect(blocked).toMatchObject({ failure: { kind: "conflict" } });
    expect(blocked.retries).toBeLessThanOrEqual(2);
    // What the coder was asked and did not do: merge the base (never rebase) and resolve.
    expect(blocked.failure!.message).toMatch(/does not contain the base [0-9a-f]+: merge it/);
    git(project.root, "fetch", "-q", "origin");
    expect(() => git(project!.root, "grep", "-l", "^<<<<<<<", "origin/main")).toThrow(/Command failed/); // no match: exit 1
  });

  it("human QA waits in qa until an operator moves the story to merge", async () => {
    project = createProject({ projectToml: projectToml({ default_qa: "human" }), agentsToml: commandSlots(1) + IDLE_MERGEMASTER });
    const server = await cluster.server(project.root);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Needs a human", stage: "current" });
    await waitFor(async () => (await item(server, s.id)).stage === "qa", "the story in qa");
    // Several scans (1 s here) pass; it stays.
    const seenAt = async () =>
      (await getJson<Array<{ id: string; lastSeen: number }>>(`${server.http}/api/nodes`)).find((n) => n.id === server.nodeId)!.lastSeen;
    const t0 = await seenAt();
    await waitFor(async () => (await seenAt()) >= t0 + 2500, "a few heartbeats of the server");
    expect((await item(server, s.id)).stage).toBe("qa");
    const moved = await runCli(["story", "move", s.id, "merge"], { env: { HUSKIES_SERVER: server.http } });
    expect(moved.code).toBe(0);
    await waitFor(async () => (await item(server, s.id)).stage === "done", "the story merged");
  });

  it("agent QA passes good work to merge and sends failing work back with its findings", async () => {
    const qaScript =
      'if [ -f "story-$HUSKIES_STORY_ID.txt" ] && ! grep -q Reject "$HUSKIES_PROMPT_FILE"; then echo "QA: PASS"; else echo "QA: FAIL the story file is missing or rejected"; fi';
    project = createProject({
      projectToml: projectToml({ default_qa: "agent", max_retries: 1 }),
      agentsToml: commandSlots(1) + commandSlots(1, qaScript, "qa", "qa") + IDLE_MERGEMASTER,
    });
    const server = await cluster.server(project.root);
    const good = await postJson<Item>(`${server.http}/api/stories`, { name: "Acceptable", stage: "current" });
    const bad = await postJson<Item>(`${server.http}/api/stories`, { name: "Reject me", stage: "current", criteria: ["Reject this"] });
    await waitFor(async () => (await item(server, good.id)).stage === "done", "the good story merged", 60_000);
    const sentBack = await waitFor(
      async () => {
        const i = await item(server, bad.id);
        return i.blocked ? i : undefined;
      },
      "the bad story sent back and blocked",
      60_000,
    );
    expect(sentBack).toMatchObject({ stage: "current", retries: 1 });
    expect(sentBack.failure.kind).toBe("qa");
    expect(sentBack.failure.message).toContain("QA: FAIL the story file is missing or rejected");
  });

  it("archives done stories after archive_after_secs and promotes dependants once their dependency is done", async () => {
    project = createProject({
      projectToml: projectToml({ default_qa: "server", archive_after_secs: 2 }),
      agentsToml: commandSlots(1) + IDLE_MERGEMASTER,
    });
    const server = await cluster.server(project.root);
    const first = await postJson<Item>(`${server.http}/api/stories`, { name: "Foundation" });
    const second = await postJson<Item>(`${server.http}/api/stories`, { name: "Builds on it", dependsOn: [first.id] });
    await waitFor(async () => (await item(server, first.id)).stage === "done", "the first story done", 60_000);
    expect(["backlog", "current"]).toContain((await item(server, second.id)).stage);
    await waitFor(async () => (await item(server, first.id)).stage === "archived", "the first story archived", 30_000);
    await waitFor(() => !existsSync(join(project!.root, ".huskies", "worktrees", first.id)), "its worktree removed");
    await waitFor(async () => ["done", "archived"].includes((await item(server, second.id)).stage), "the dependant done", 60_000);
  });

  it("refuses to merge a branch with no commits ahead", async () => {
    project = createProject({
      projectToml: projectToml({ default_qa: "human", max_retries: 1 }),
      // A coder that pushes by itself is a trusted script (`sandbox = "off"`): a confined one cannot
      // write to origin (huskies pushes the story's branch, never the coder).
      agentsToml:
        commandSlots(1, "git push -q origin HEAD:refs/heads/feature/story-$HUSKIES_STORY_ID").replace(
          'runtime = "command"',
          'runtime = "command"\nsandbox = "off"',
        ) + IDLE_MERGEMASTER,
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("agent"), server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Nothing here", stage: "current" });
    const failed = await waitFor(async () => {
      const i = await item(server, s.id);
      return i.blocked ? i : undefined;
    }, "the coder attempt to fail");
    expect(failed.blocked).toMatch(/no commits/);
    const move = await runCli(["story", "move", s.id, "qa"], { env: { HUSKIES_SERVER: server.http } });
    expect(move.code).toBe(0);
    const toMerge = await runCli(["story", "move", s.id, "merge"], { env: { HUSKIES_SERVER: server.http } });
    expect(toMerge.code).toBe(1);
    expect(toMerge.stderr).toMatch(/merge needs at least one commit ahead/);
  });
});
