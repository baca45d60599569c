import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { commonProtocol } from "../../src/pipeline/compatibility.js";
import { SCHEMA } from "../../src/state/migrations/index.js";
import type { Item } from "../../src/state/item.js";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../../src/version.js";
import { Cluster, getJson, postJson, type NodeProc } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { buildOldRelease, oldReleaseUnavailable, OLD_RELEASE_COMMIT } from "../support/old-release.js";
import { waitFor } from "../support/wait-for.js";

/**
 * This release against the one before versions existed (README "Versions"), each running its own
 * build: they either work together or this side refuses with one line, and the old side's replica
 * and the document stay loadable; the old document is migrated when this rendezvous opens it.
 */
const unavailable = oldReleaseUnavailable();
if (unavailable) console.warn(`mixed-release tests cannot run: ${unavailable}`);
const OLD_PROTOCOL = 1; // the old release sends no `protocol`: the wire before versioning
const together = commonProtocol({ protocol: PROTOCOL, min: MIN_PROTOCOL }, { protocol: OLD_PROTOCOL, min: OLD_PROTOCOL }) !== undefined;

describe.skipIf(!!unavailable)(`this release (${VERSION}) and the release before versions (${OLD_RELEASE_COMMIT.slice(0, 7)})`, () => {
  let oldCli = "";
  const fresh = new Cluster();
  let old: Cluster;
  let project: Project | undefined;
  beforeAll(() => {
    oldCli = buildOldRelease();
    old = new Cluster(oldCli);
  }, 300_000);
  afterEach(async () => {
    await Promise.all([fresh.stopAll(), old?.stopAll()]);
    project?.cleanup();
    project = undefined;
  });
  afterAll(async () => {
    await old?.stopAll();
  });

  const stories = (p: NodeProc) => getJson<Item[]>(`${p.http}/api/stories`);
  const health = (p: NodeProc) => getJson<Record<string, unknown>>(`${p.http}/health`);

  it("a document the old release wrote is migrated once by this rendezvous, and the old release still loads it", async () => {
    // The old coder leaves no commit: each attempt fails in the old wording ("no commits on …").
    project = createProject({ projectToml: projectToml({ max_retries: 2 }), agentsToml: commandSlots(1, "true") });
    const working = await old.server(project.root);
    const failing = await postJson<Item>(`${working.http}/api/stories`, { name: "Never commits", stage: "current" });
    await waitFor(
      async () => (await stories(working)).find((i) => i.id === failing.id)?.blocked,
      "the old release to block the story",
      60_000,
    );
    await old.stopAll();
    // Without its slots (nothing may work the next story): an operator sends a story back with a reason.
    const before = await old.server(project.root, ["--no-agent"]);
    const reworked = await postJson<Item>(`${before.http}/api/stories`, { name: "Sent back" });
    await postJson(`${before.http}/api/stories/${reworked.id}/move`, { stage: "current", reason: "please add tests" });
    const oldItems = await stories(before);
    expect(typeof oldItems.find((i) => i.id === failing.id)!.failure).toBe("string");
    await old.stopAll();

    const after = await fresh.server(project.root, ["--no-agent"]);
    await waitFor(() => after.logs.find((l) => l.msg === "document migrated from schema 1 to 2"), "the migration to run");
    expect(await health(after)).toMatchObject({ version: VERSION, protocol: PROTOCOL, schema: { document: SCHEMA, supported: SCHEMA } });
    const migrated = await stories(after);
    expect(migrated.map((i) => i.id).sort()).toEqual(oldItems.map((i) => i.id).sort());
    expect(migrated.find((i) => i.id === failing.id)!.failure).toMatchObject({ kind: "no_commits" });
    expect(migrated.find((i) => i.id === reworked.id)!.failure).toEqual({ kind: "other", message: "please add tests" });
    await fresh.stopAll();

    // Opened again by the old release: every story is there, nothing crashes.
    const again = await old.server(project.root, ["--no-agent"]);
    expect((await stories(again)).map((i) => i.id).sort()).toEqual(oldItems.map((i) => i.id).sort());
    await old.stopAll();
    // And this release opens it once more without migrating again.
    const third = await fresh.server(project.root, ["--no-agent"]);
    expect((await stories(third)).length).toBe(oldItems.length);
    expect(third.logs.filter((l) => l.msg === "document migrated from schema 1 to 2")).toHaveLength(0);
    // Six node starts of two builds one after another: room for a loaded machine.
  }, 300_000);

  for (const [serverBuild, agentBuild] of [
    ["this", "old"],
    ["old", "this"],
  ] as const) {
    it(`${serverBuild === "this" ? "this rendezvous and an old agent" : "an old rendezvous and this agent"}: ${together ? "work together" : "one line, no link, nothing corrupted"}`, async () => {
      project = createProject({ projectToml: projectToml({ default_qa: "server" }), agentsToml: commandSlots(1) });
      const agentRoot = project.clone("agent");
      const server = await (serverBuild === "this" ? fresh : old).server(project.root, ["--no-agent"]);
      const agent = await (agentBuild === "this" ? fresh : old).agent(agentRoot, server.ws);
      const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Across releases", stage: "current" });
      const thisSide = serverBuild === "this" ? server : agent;
      if (together) {
        await waitFor(
          async () => (await stories(server)).find((i) => i.id === story.id)?.stage === "merge",
          "the story to be worked",
          60_000,
        );
        // Read by this release: its own node entry says its release; the old node's says nothing.
        const nodes = (await getJson<{ nodes: Array<{ id: string; version?: string }> }>(`${thisSide.http}/api/pipeline`)).nodes;
        expect(nodes.find((n) => n.id === thisSide.nodeId)?.version).toBe(VERSION);
        expect(nodes.find((n) => n.id !== thisSide.nodeId)?.version).toBeUndefined();
      } else {
        const line = await waitFor(() => thisSide.logs.find((l) => String(l.msg).startsWith("refusing node")), "the refusal line");
        expect(String(line.msg)).toContain(`huskies ${VERSION}`);
        expect(String(line.msg)).toContain("before 0.3.0 (protocol 1)");
        expect(thisSide.logs.filter((l) => String(l.msg).startsWith("refusing node"))).toHaveLength(1);
        expect((await stories(server)).find((i) => i.id === story.id)).toMatchObject({ stage: "current", claim: null });
        // The old side keeps its replica: stopped and started again, it loads and serves.
        const oldSide = serverBuild === "old" ? server : agent;
        await oldSide.stop();
        const back = await old
          .spawn(
            "old-again",
            serverBuild === "old"
              ? ["serve", project.root, "--port", "0", "--no-agent"]
              : ["agent", agentRoot, "--rendezvous", server.ws, "--port", "0"],
          )
          .ready();
        expect((await health(back)).nodeId).toBe(oldSide.nodeId);
      }
    }, 180_000);
  }
});
