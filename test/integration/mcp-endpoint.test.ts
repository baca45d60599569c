import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Cluster, getJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await cluster.stopAll();
  project?.cleanup();
});

const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]!.text;

describe("/mcp", () => {
  it("an official SDK client lists tools, creates, moves and reads stories; bad input is a tool error", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    client = new Client({ name: "huskies-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.http}/mcp`)));

    // Today's tools stay (mcp-tools.test.ts covers the full list).
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(
      expect.arrayContaining([
        "approve_story",
        "create_story",
        "get_pipeline_status",
        "get_story_log",
        "list_agents",
        "list_nodes",
        "move_story",
        "pause_node",
        "reject_story",
        "resume_node",
        "show_story",
        "tick_criterion",
        "update_story",
      ]),
    );

    const created = JSON.parse(
      text(
        await client.callTool({
          name: "create_story",
          arguments: { name: "From MCP", user_story: "As an assistant…", acceptance_criteria: ["it exists", "it moves"] },
        }),
      ),
    ) as Item;
    expect(created).toMatchObject({ id: "1_story_from_mcp", stage: "backlog" });
    const moved = JSON.parse(text(await client.callTool({ name: "move_story", arguments: { id: created.id, stage: "current" } }))) as Item;
    expect(moved.stage).toBe("current");
    await client.callTool({ name: "tick_criterion", arguments: { id: created.id, index: 1 } });
    const shown = JSON.parse(text(await client.callTool({ name: "show_story", arguments: { id: created.id } })));
    expect(shown.criteria).toEqual([
      { text: "it exists", done: false },
      { text: "it moves", done: true },
    ]);
    const pipeline = JSON.parse(text(await client.callTool({ name: "get_pipeline_status", arguments: {} })));
    expect(pipeline.stages.current.map((i: Item) => i.id)).toEqual([created.id]);
    expect((await getJson<Item>(`${server.http}/api/stories/${created.id}`)).stage).toBe("current");

    const badType = await client.callTool({ name: "create_story", arguments: { name: "x", type: "epic" } });
    expect(badType.isError).toBe(true);
    const unknown = await client.callTool({ name: "show_story", arguments: { id: "42_story_nope" } });
    expect(unknown).toMatchObject({ isError: true });
    expect(text(unknown)).toContain("unknown story 42_story_nope");
    const illegal = await client.callTool({ name: "move_story", arguments: { id: created.id, stage: "done" } });
    expect(illegal.isError).toBe(true);
    expect(text(illegal)).toMatch(/cannot move .*done needs a merge commit|no transition/);
    // The server is still fine.
    expect((await client.listTools()).tools.length).toBe(tools.length);
  });

  it("human QA: reject_story sends a story in qa back with line comments, approve_story checks the branch", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false, default_qa: "human" }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    client = new Client({ name: "huskies-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.http}/mcp`)));
    const created = JSON.parse(
      text(await client.callTool({ name: "create_story", arguments: { name: "Review me", stage: "current" } })),
    ) as Item;
    await client.callTool({ name: "move_story", arguments: { id: created.id, stage: "qa" } });

    // No branch was pushed, so approving is refused with the transition's reason.
    const approve = await client.callTool({ name: "approve_story", arguments: { id: created.id } });
    expect(approve.isError).toBe(true);
    expect(text(approve)).toContain("merge needs at least one commit ahead");
    const noReason = await client.callTool({ name: "reject_story", arguments: { id: created.id } });
    expect(noReason.isError).toBe(true);
    expect(text(noReason)).toContain("a review needs a comment");

    const rejected = JSON.parse(
      text(
        await client.callTool({
          name: "reject_story",
          arguments: { id: created.id, reason: "Not yet.", comments: [{ file: "src/app.ts", line: 7, text: "Off by one." }] },
        }),
      ),
    ) as Item;
    expect(rejected).toMatchObject({
      stage: "current",
      failure: { kind: "rework", message: "review: 1 line comment on 1 file. Not yet." },
    });
    expect(rejected.review).toMatchObject({ summary: "Not yet.", comments: [{ file: "src/app.ts", line: 7, text: "Off by one." }] });
    const again = await client.callTool({ name: "reject_story", arguments: { id: created.id, reason: "again" } });
    expect(text(again)).toContain("only a story in qa can be rejected");
  });
});
