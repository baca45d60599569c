import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Cluster, getJson } from "../support/cluster.js";
import { createProject, originBranches, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await cluster.stopAll();
  project?.cleanup();
});

type Result = { isError?: boolean; content: Array<{ text: string }> };
const text = (r: unknown) => (r as Result).content[0]!.text;

/** Every tool the rendezvous' `/mcp` offers (today's eleven and the ones issue 31 adds). */
const ALL_TOOLS = [
  "answer_question",
  "approve_story",
  "assign_story",
  "block_story",
  "check_criterion",
  "create_join_string",
  "create_story",
  "delete_story",
  "get_merge_queue",
  "get_pipeline_status",
  "get_story_log",
  "get_story_todos",
  "git_diff",
  "list_agents",
  "list_nodes",
  "move_story",
  "pause_node",
  "purge_story",
  "reject_story",
  "release_story",
  "reload_agent_config",
  "resume_node",
  "revoke_node",
  "send_review",
  "show_story",
  "tick_criterion",
  "unblock_story",
  "update_story",
];

describe("/mcp tools", () => {
  it("an SDK client lists every tool and uses each; bad input is a tool error and the server carries on", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    // One coder on the server: it logs a line, waits for the test's go-ahead, logs again, commits.
    // The signal lives in its worktree: a confined coder sees nothing of the node's `.huskies/` but its checkout.
    // A rework run (its branch has the first run's commit) goes straight on.
    const script = `git log --format=%s | grep -qx work || { echo "coder started"; while [ ! -f "$HUSKIES_WORKTREE/.go" ]; do sleep 0.05; done; echo "coder released"; }; date +%s%N > work.txt && git add work.txt && git commit -qm work`;
    writeFileSync(join(project.root, ".huskies", "agents.toml"), commandSlots(1, script));
    const server = await cluster.server(project.root);
    client = new Client({ name: "huskies-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.http}/mcp`)));
    const call = async (name: string, args: Record<string, unknown> = {}) => {
      const r = (await client!.callTool({ name, arguments: args })) as Result;
      if (r.isError) throw new Error(`${name}: ${text(r)}`);
      const t = text(r);
      return t.startsWith("{") || t.startsWith("[") ? JSON.parse(t) : t;
    };
    const fails = async (name: string, args: Record<string, unknown>) => {
      const r = (await client!.callTool({ name, arguments: args })) as Result;
      expect(r.isError, `${name}(${JSON.stringify(args)}) should be a tool error`).toBe(true);
      return text(r);
    };

    const tools = (await client.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS);
    // Nothing is in merge yet: the queue is empty (test/browser/merge-queue.test.ts fills it).
    expect(await call("get_merge_queue")).toEqual([]);

    // Stories: create (the original's arguments), show, todos, tick both ways, update.
    const a = (await call("create_story", {
      name: "Health check",
      user_story: "As an operator I want /healthz.",
      acceptance_criteria: ["it answers 200", "it names the version", "it is documented"],
      depends_on: [],
    })) as Item;
    expect(a).toMatchObject({ id: "1_story_health_check", stage: "backlog" });
    expect((await call("get_story_todos", { id: a.id })).map((t: { index: number }) => t.index)).toEqual([0, 1, 2]);
    await call("tick_criterion", { id: a.id, index: 1 });
    // The original's check_criterion counts unticked criteria only: its 1 is now criterion 2.
    await call("check_criterion", { story_id: a.id, criterion_index: 1 });
    expect((await call("show_story", { id: a.id })).criteria.map((c: { done: boolean }) => c.done)).toEqual([false, true, true]);
    const renamed = (await call("update_story", { id: a.id, name: "Health check endpoint" })) as Item;
    expect(renamed.name).toBe("Health check endpoint");
    expect(renamed.body).toContain("- [x] it is documented"); // a field left out stays
    expect(await fails("check_criterion", { story_id: a.id, criterion_index: 1 })).toContain("no unticked criterion 1");

    // Block, unblock, assign to the server's node, release.
    expect(((await call("block_story", { id: a.id, reason: "waiting on ops" })) as Item).blocked).toBe("waiting on ops");
    expect(((await call("unblock_story", { id: a.id })) as Item).blocked).toBeNull();
    expect(((await call("assign_story", { id: a.id, node: server.nodeId })) as Item).claim?.node).toBe(server.nodeId);
    expect(((await call("release_story", { id: a.id })) as Item).claim).toBeNull();
    expect(await fails("answer_question", { id: a.id, answer: "yes" })).toContain("has no open question");

    // A run's log: tail, then since + a bounded wait that returns when the next line arrives.
    const b = (await call("create_story", { name: "Logged work", stage: "current" })) as Item;
    const first = await waitFor(async () => {
      const t = (await call("get_story_log", { id: b.id })) as string;
      return t.includes("coder started") ? t : undefined;
    }, "the coder's first line in the log");
    const next = Number(/since=(\d+)/.exec(first)![1]);
    expect(await call("get_story_log", { id: b.id, since: next, wait_ms: 200 })).toContain("(no new output)");
    const waiting = call("get_story_log", { id: b.id, since: next, wait_ms: 25_000 });
    writeFileSync(join(project.root, ".huskies", "worktrees", b.id, ".go"), "");
    expect(await waiting).toContain("coder released");
    const json = await call("get_story_log", { id: b.id, since: 0, tail: 1, format: "json" });
    expect(json).toMatchObject({ from: 0, next: 1 });

    // Its pushed branch: the diff; a review by the line sends it back to current with the comments.
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${b.id}`)).stage === "qa", "the coder's work in qa");
    const diff = await call("git_diff", { id: b.id });
    expect(diff.files.map((f: { path: string }) => f.path)).toEqual(["work.txt"]);
    expect(await fails("git_diff", { id: a.id })).toContain("not pushed yet");
    const reviewed = (await call("send_review", {
      id: b.id,
      summary: "name the file after the story",
      comments: [{ file: "work.txt", line: 1, text: "a date is not work" }],
    })) as Item;
    expect(reviewed).toMatchObject({
      stage: "current",
      failure: { kind: "rework", message: "review: 1 line comment on 1 file. name the file after the story" },
      review: { comments: [{ file: "work.txt", line: 1, text: "a date is not work" }] },
    });

    // Delete; purge takes the branch on origin too.
    await call("delete_story", { id: a.id });
    expect(await fails("show_story", { id: a.id })).toContain(`unknown story ${a.id}`);
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${b.id}`)).stage === "qa", "the rework pushed");
    expect(originBranches(project.origin)).toContain(`feature/story-${b.id}`);
    expect(await call("purge_story", { id: b.id })).toMatchObject({ purged: true, branchDeleted: true });
    expect(originBranches(project.origin)).not.toContain(`feature/story-${b.id}`);

    // Moves follow the transition rules; the pipeline shows what is where.
    const c = (await call("create_story", { name: "Moved", type: "bug" })) as Item;
    expect(((await call("move_story", { id: c.id, stage: "2_current", reason: "now" })) as Item).stage).toBe("current");
    expect(await fails("move_story", { id: c.id, stage: "done" })).toMatch(/done needs a merge commit|no transition/);
    const status = await call("get_pipeline_status");
    expect(status.stages.current.map((i: Item) => i.id)).toContain(c.id);
    expect(status.release.version).toMatch(/^\d+\.\d+\.\d+/);

    // Nodes: list, pause, resume, revoke a key; agents; config; join strings.
    const nodes = (await call("list_nodes")) as NodeEntry[];
    expect(nodes.map((n) => n.id)).toContain(server.nodeId);
    expect(((await call("pause_node", { node: server.nodeId, reason: "maintenance" })) as NodeEntry).id).toBe(server.nodeId);
    await waitFor(
      async () => ((await call("list_nodes")) as NodeEntry[]).find((n) => n.id === server.nodeId)?.paused?.reason === "maintenance",
      "the pause in the node's entry",
    );
    await call("resume_node", { node: server.nodeId });
    await waitFor(async () => !((await call("list_nodes")) as NodeEntry[]).find((n) => n.id === server.nodeId)?.paused, "the resume");
    expect(await call("revoke_node", { node: "ab".repeat(32) })).toEqual({ nodeId: "ab".repeat(32), revoked: true });
    expect(await fails("pause_node", { node: "no-such-node" })).toContain("unknown node");
    const agents = await call("list_agents");
    expect(agents.slots.map((s: { name: string }) => s.name)).toEqual(["coder-1"]);
    expect(agents.runs.map((r: { storyId: string }) => r.storyId)).toContain(b.id);
    expect(await call("reload_agent_config")).toEqual({ reloaded: true, slots: 1 });
    writeFileSync(join(project.root, ".huskies", "agents.toml"), "[[agent]]\nname = 'x'\nrole = 'juggler'\n");
    expect(await fails("reload_agent_config", {})).toMatch(/agents\.toml/);
    const join1 = await call("create_join_string", { ttl_secs: 600 });
    expect(join1.join).toMatch(/^hj1\./);
    expect(join1.expiresAt).toBeGreaterThan(Date.now());

    // Bad input: every tool that takes arguments refuses none, and wrong types, as tool errors.
    for (const t of tools) {
      if ((t.inputSchema.required ?? []).length) await fails(t.name, {});
    }
    await fails("create_story", { name: "x", type: "epic" });
    await fails("tick_criterion", { id: c.id, index: -1 });
    await fails("get_story_log", { id: c.id, wait_ms: 10 * 60_000 });
    await fails("create_join_string", { ttl_secs: 1e12 });
    await fails("show_story", { id: "../../etc/passwd" });
    await fails("no_such_tool", {});
    expect((await client.listTools()).tools.length).toBe(ALL_TOOLS.length);
  });
});
