import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, runCli } from "../support/cluster.js";
import { createProject, git, originBranches, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { isGone, treePids } from "../../src/runtime/process-tree.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** A coder that copies the story it was given into the worktree (from the prompt file) and commits. */
const COPY_PROMPT = 'cp "$HUSKIES_PROMPT_FILE" story.md && git add -A && git commit -qm "story $HUSKIES_STORY_ID"';

describe("coders are confined", () => {
  it("a story named with shell metacharacters, quotes, .. and newlines runs correctly and touches nothing outside its worktree", async () => {
    project = createProject({
      projectToml: projectToml({}, ["grep -q 'Acceptance criteria' story.md"]),
      agentsToml: commandSlots(1, COPY_PROMPT),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    await cluster.agent(agentRoot, server.ws);
    const hostile = `Fix "quotes" & 'ticks'; rm -rf ~ $(touch /tmp/pwned-huskies) \`id\` ../../../etc/passwd\nsecond line | tee x > y`;
    const add = await runCli(
      ["story", "add", hostile, "--stage", "current", "--criterion", "$(touch /tmp/pwned-huskies-2) works", "--json"],
      { env: { HUSKIES_SERVER: server.http } },
    );
    expect(add.code).toBe(0);
    const story = JSON.parse(add.stdout) as Item;
    expect(story.id).toMatch(/^1_story_[a-z0-9_]+$/);
    expect(story.name).toBe(hostile);

    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${story.id}`)).stage === "qa", "the story to reach qa");
    expect(originBranches(project.origin)).toContain(`feature/story-${story.id}`);
    const committed = git(project.origin, "show", `feature/story-${story.id}:story.md`);
    expect(committed).toContain("second line | tee x > y");
    expect(committed).toContain("- [ ] $(touch /tmp/pwned-huskies-2) works");
    expect(existsSync("/tmp/pwned-huskies")).toBe(false);
    expect(existsSync("/tmp/pwned-huskies-2")).toBe(false);
    // Outside the worktrees, both checkouts are exactly as committed.
    for (const root of [project.root, agentRoot]) {
      expect(
        git(root, "status", "--porcelain", "--untracked-files=all")
          .split("\n")
          .filter((l) => l && !l.includes(".huskies/")),
      ).toEqual([]);
    }
    // Besides the story's own worktree, only the agent's prepared ones (`.pool-<n>`).
    expect(readdirSync(join(agentRoot, ".huskies", "worktrees")).filter((d) => !d.startsWith(".pool-"))).toEqual([story.id]);

    // The log lives on the agent; the server's CLI path reaches it.
    const log = await runCli(["story", "log", story.id], { env: { HUSKIES_SERVER: server.http } });
    expect(log.code).toBe(0);
    expect(log.stdout).toContain(`pushed feature/story-${story.id}`);
  });

  it("story log --follow streams a running coder's output through the server", async () => {
    project = createProject({
      projectToml: projectToml(),
      agentsToml: commandSlots(
        1,
        'echo first-line; while [ ! -f "$HUSKIES_WORKTREE/.go-signal" ]; do sleep 0.1; done; echo second-line; git commit -q --allow-empty -m x',
      ),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    await cluster.agent(agentRoot, server.ws);
    const id = (await runCli(["story", "add", "Chatty", "--stage", "current"], { env: { HUSKIES_SERVER: server.http } })).stdout.trim();
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${id}`)).logNode, "the agent to start logging");
    const follower = cluster.spawn("follow", ["story", "log", id, "--follow", "--server", server.http]);
    await waitFor(() => follower.stdout.some((l) => l.includes("first-line")), "the existing lines");
    // Inside the worktree: a confined coder sees nothing of the node's `.huskies/` but its checkout.
    writeFileSync(join(agentRoot, ".huskies", "worktrees", id, ".go-signal"), "");
    await waitFor(() => follower.stdout.some((l) => l.includes("second-line")), "a line written after following started");
  });

  it("a hanging coder is killed after inactivity_timeout_secs with its whole tree", async () => {
    project = createProject({
      projectToml: projectToml({ inactivity_timeout_secs: 1, max_retries: 1 }),
      agentsToml: commandSlots(1, "echo thinking; sleep 600 & sleep 600"),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    await cluster.agent(agentRoot, server.ws);
    const add = await runCli(["story", "add", "Hangs forever", "--stage", "current"], { env: { HUSKIES_SERVER: server.http } });
    const id = add.stdout.trim();
    const pid = await waitFor(() => {
      const file = join(agentRoot, ".huskies", "running.json");
      return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, { pid: number }>)[id]?.pid : undefined;
    }, "the coder to start");
    const tree = await waitFor(() => {
      const t = treePids(pid);
      return t.length >= 3 ? t : undefined;
    }, "the coder's tree");
    const blocked = await waitFor(async () => {
      const i = await getJson<Item>(`${server.http}/api/stories/${id}`);
      return i.blocked ? i : undefined;
    }, "the story to be blocked after the timeout");
    expect(blocked.blocked).toMatch(/inactivity timeout/);
    expect(tree.filter((p) => !isGone(p))).toEqual([]);
  });
});
