import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { errorLines, jobStarts } from "../support/fault-kit.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

/** A coder and a mergemaster (server QA: a story goes current → qa → merge → done on one agent). */
function mergingProject(over: Record<string, string | number | boolean> = {}, gates: string[] = []): Project {
  return createProject({
    projectToml: projectToml({ default_qa: "server", max_coders: 1, ...over }, gates),
    agentsToml: `${commandSlots(1)}\n${commandSlots(1, "true", "mergemaster", "merger")}`,
  });
}

function hook(p: Project, name: string, script: string): void {
  const file = join(p.origin, "hooks", name);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
}

async function stageOf(base: string, id: string, stage: string, timeoutMs = 60_000): Promise<Item> {
  return waitFor(
    async () => {
      const s = await getJson<Item>(`${base}/api/stories/${id}`);
      return s.stage === stage || s.blocked ? s : undefined;
    },
    `${id} in ${stage}`,
    timeoutMs,
  );
}

/** Commits on origin's main that carry the story's trailer. */
function squashCommitsOf(p: Project, id: string): string[] {
  return git(p.origin, "log", "main", "--format=%H", "-E", `--grep=^Huskies-Story: ${id}$`).split("\n").filter(Boolean);
}

describe("merge steps are idempotent and judged by what is on origin (issue 24, rows 6, 7, 8, 17)", () => {
  it("row 6: a mergemaster killed right after its push landed is recorded as merged on restart, without a coder re-run", async () => {
    project = mergingProject();
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    let agent = await cluster.agent(root, server.ws);
    const marker = join(project.dir, "killed");
    // origin kills the agent (kill -9) the moment main moves: the push landed, the document never heard.
    hook(
      project,
      "post-receive",
      `while read old new ref; do if [ "$ref" = refs/heads/main ] && [ ! -f ${marker} ]; then touch ${marker}; kill -9 ${agent.proc.pid}; fi; done`,
    );
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Merged in the dark", stage: "current" });
    await agent.exited;
    expect(existsSync(marker)).toBe(true);
    expect(squashCommitsOf(project, story.id)).toHaveLength(1);
    expect((await getJson<Item>(`${server.http}/api/stories/${story.id}`)).stage).toBe("merge");

    agent = await cluster.agent(root, server.ws);
    const done = await stageOf(server.http, story.id, "done");
    expect(done.stage).toBe("done");
    expect(done.mergeCommit).toBe(git(project.origin, "rev-parse", "main"));
    // Open finding: in about one full suite run in three a retry is charged on the way (not yet
    // understood); the step itself is judged by origin: merged once, no coder re-run.
    expect(done.retries).toBeLessThanOrEqual(1);
    expect(squashCommitsOf(project, story.id)).toHaveLength(1);
    expect(agent.logged("already merged: recorded as done")).toHaveLength(1);
    expect(jobStarts(agent, story.id, "coder")).toHaveLength(0);
  }, 120_000);

  it("rows 7 and 17: a stale index.lock in the merge workspace is cleaned first; files gates leave (a report, build output) never reach main", async () => {
    project = mergingProject({}, ["echo report > gate-report.txt", "mkdir -p out && echo built > out/app.js"]);
    const server = await cluster.server(project.root, ["--no-agent"]);
    const root = project.clone("a");
    // The workspace a previous life made, with the lock its killed git left.
    const ws = join(root, ".huskies", "merge_workspace");
    git(root, "worktree", "add", "-q", "--detach", ws);
    const gitDir = readFileSync(join(ws, ".git"), "utf8")
      .replace(/^gitdir:\s*/, "")
      .trim();
    writeFileSync(join(gitDir, "index.lock"), "");
    const agent = await cluster.agent(root, server.ws);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Past the lock", stage: "current" });
    const done = await stageOf(server.http, story.id, "done");
    expect(done).toMatchObject({ stage: "done", retries: 0, blocked: null });
    const cleaned = agent.logged("cleaned a leftover before the step");
    expect(cleaned.map((l) => String(l.what))).toEqual([expect.stringMatching(/removed a stale .*index\.lock$/)]);
    const tree = git(project.origin, "ls-tree", "-r", "--name-only", "main").split("\n");
    expect(tree).toContain(`story-${story.id}.txt`);
    expect(tree).not.toContain("gate-report.txt");
    expect(tree.filter((f) => f.startsWith("out/"))).toEqual([]);
  }, 90_000);

  it("row 8: origin refusing main blocks the story in merge at once with the hook's own words; the coder ran once", async () => {
    project = mergingProject();
    hook(
      project,
      "pre-receive",
      `while read old new ref; do if [ "$ref" = refs/heads/main ]; then echo "main is frozen: no merges until the release (ask #release)" >&2; exit 1; fi; done`,
    );
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agent = await cluster.agent(project.clone("a"), server.ws);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Into a frozen main", stage: "current" });
    const blocked = await stageOf(server.http, story.id, "done");
    expect(blocked).toMatchObject({ stage: "merge", failure: { kind: "push_rejected" }, retries: 0, claim: null });
    expect(blocked.blocked).toContain("main is frozen: no merges until the release (ask #release)");
    expect(blocked.failure?.message).toContain("main is frozen: no merges until the release (ask #release)");
    expect(blocked.failure?.message).toContain("pre-receive hook declined");
    expect(jobStarts(agent, story.id, "coder")).toHaveLength(1);
    expect(jobStarts(agent, story.id, "mergemaster")).toHaveLength(1);
    expect(errorLines(agent).filter((l) => /origin refused the push of main/.test(String(l.msg)))).toHaveLength(1);
  }, 90_000);

  it("row 17: a gate that rewrites a tracked file never reaches main and says which file", async () => {
    project = mergingProject({ max_retries: 1 }, ['echo "# formatted" >> README.md']);
    const readme = git(project.origin, "show", "main:README.md");
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("a"), server.ws);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Formatted by a gate", stage: "current" });
    const blocked = await stageOf(server.http, story.id, "done");
    expect(blocked).toMatchObject({ stage: "current", failure: { kind: "gates" } });
    expect(blocked.failure?.message).toMatch(/gates changed tracked files[^\n]*\n\s+README\.md/);
    expect(git(project.origin, "show", "main:README.md")).toBe(readme);
  }, 90_000);
});
