import { existsSync, statSync } from "node:fs";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { Claims } from "../../src/state/claims.js";
import { channelSocketPath, serveMcpOnSocket, type McpSocket } from "../../src/server/mcp-socket.js";
import { ASKED, buildCoderMcp } from "../../src/server/mcp-coder-tools.js";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../support/paths.js";
import { silent, tempDir } from "../support/in-process.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { signRecord } from "../../src/trust/signed-record.js";
import { TICK_KIND, tickRequestKey } from "../../src/pipeline/tick-request.js";
import { applyTickRequests } from "../../src/rendezvous/tick-requests.js";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";

/** The built bridge (this test runs from source; the bridge runs as its own process). */
const SOCKET_BRIDGE = join(PACKAGE_ROOT, "dist", "src", "server", "mcp-socket-bridge.js");

let channel: McpSocket | undefined;
let client: Client | undefined;
let tmp: ReturnType<typeof tempDir> | undefined;
const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await client?.close();
  await channel?.close();
  tmp?.remove();
  await cluster.stopAll();
  project?.cleanup();
});

type Result = { isError?: boolean; content: Array<{ text: string }> };
const text = (r: unknown) => (r as Result).content[0]!.text;

describe("a coder's MCP channel", () => {
  it("answers over its unix socket through the stdio bridge, for its own story only, and only while the run holds the claim", async () => {
    tmp = tempDir();
    const pipeline = new PipelineDoc();
    const claims = new Claims(pipeline);
    const identity = ephemeralIdentity();
    const node = identity.nodeId;
    const mine = pipeline.createItem({ name: "Mine", stage: "current", body: "# Mine\n\n- [ ] one\n- [ ] two\n" });
    const theirs = pipeline.createItem({ name: "Theirs", stage: "current", body: "- [ ] theirs\n" });
    const token = claims.grant(mine.id, node)!;
    const path = channelSocketPath(tmp.dir);
    channel = await serveMcpOnSocket(
      path,
      () =>
        buildCoderMcp({
          storyId: mine.id,
          node,
          slot: "claude-1",
          item: () => pipeline.getItem(mine.id),
          patch: (p) => claims.patchAs(token, p),
          sessionId: () => "session-1",
          tick: (index, done) => {
            const fields = { item: mine.id, node, epoch: token.epoch, index, done, at: Date.now() };
            return claims.requestTick(token, tickRequestKey(fields), signRecord(identity, TICK_KIND, fields));
          },
          onChange: (cb) => pipeline.onChange(cb),
        }),
      silent,
    );
    // What the rendezvous does: apply the ticks the holder signed.
    const offApply = pipeline.onChange(() => setImmediate(() => applyTickRequests(claims, silent)));
    expect(path.startsWith(`${tmp.dir}/.huskies/channels/`)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    // What claude does with --mcp-config: start the bridge as a stdio server.
    client = new Client({ name: "coder", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [SOCKET_BRIDGE, path] }));
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      "ask_human",
      "report_progress",
      "show_story",
      "tick_criterion",
    ]);

    await client.callTool({ name: "tick_criterion", arguments: { index: 1 } });
    expect(pipeline.getItem(mine.id)!.body).toContain("- [x] two");
    await client.callTool({ name: "report_progress", arguments: { id: mine.id, text: "halfway" } });
    expect(pipeline.getItem(mine.id)!.progress).toMatchObject({ text: "halfway" });
    const shown = JSON.parse(text(await client.callTool({ name: "show_story", arguments: {} })));
    expect(shown.criteria).toEqual([
      { text: "one", done: false },
      { text: "two", done: true },
    ]);

    // Another story's id: refused, whatever the tool; that story is untouched.
    for (const [name, args] of [
      ["tick_criterion", { id: theirs.id, index: 0 }],
      ["report_progress", { id: theirs.id, text: "x" }],
      ["ask_human", { id: theirs.id, question: "x" }],
      ["show_story", { id: theirs.id }],
    ] as const) {
      const r = await client.callTool({ name, arguments: args });
      expect(r.isError, name).toBe(true);
      expect(text(r)).toContain(`refused: this session works on ${mine.id} only, not ${theirs.id}`);
    }
    expect(pipeline.getItem(theirs.id)!.body).toBe("- [ ] theirs\n");
    expect(pipeline.getItem(theirs.id)!.progress).toBeUndefined();

    // What a runtime without an MCP client does with $HUSKIES_MCP_SOCKET: JSON-RPC lines, then close its side.
    const raw = await new Promise<string>((resolve, reject) => {
      let out = "";
      const sock = connect(path);
      sock.on("data", (d) => (out += d));
      sock.on("error", reject);
      sock.on("close", () => resolve(out));
      sock.end(
        `${JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "report_progress", arguments: { text: "from a script" } } })}\n`,
      );
    });
    expect(JSON.parse(raw.trim())).toMatchObject({ id: 7, result: { content: [{ text: "shown on the board" }] } });
    expect(pipeline.getItem(mine.id)!.progress).toMatchObject({ text: "from a script" });

    // One question at a time; bad input is a tool error.
    expect(text(await client.callTool({ name: "ask_human", arguments: { question: "Which port?" } }))).toBe(ASKED);
    expect(pipeline.getItem(mine.id)!.question).toMatchObject({ text: "Which port?", node, slot: "claude-1", sessionId: "session-1" });
    expect(text(await client.callTool({ name: "ask_human", arguments: { question: "And?" } }))).toContain("already waiting");
    expect((await client.callTool({ name: "tick_criterion", arguments: { index: 7 } })).isError).toBe(true);
    expect((await client.callTool({ name: "report_progress", arguments: { text: "" } })).isError).toBe(true);

    // The claim is taken back (an operator released it): the run writes nothing more.
    claims.clear(mine.id);
    const late = await client.callTool({ name: "tick_criterion", arguments: { index: 0 } });
    expect(text(late)).toContain("no longer holds");
    expect(pipeline.getItem(mine.id)!.body).toContain("- [ ] one");
    offApply();

    await client.close();
    client = undefined;
    await channel.close();
    channel = undefined;
    expect(existsSync(path)).toBe(false);
  });

  // CI installs bubblewrap and socat (.ci/run): there a missing tool fails instead of skipping.
  it.skipIf(missingSandboxTools().length > 0 && !process.env.CI)(
    "a confined command coder reaches its channel at $HUSKIES_MCP_SOCKET, mounted into its sandbox",
    async () => {
      // The coder reports progress over the socket with socat (no MCP client needed), then commits.
      const call = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "report_progress", arguments: { text: "from inside" } },
      });
      const script = [
        `printf '%s\\n' '${call}' | socat -t 5 - "UNIX-CONNECT:$HUSKIES_MCP_SOCKET" > answer.json`,
        "git add -A && git commit -qm 'report'",
      ].join("; ");
      project = createProject({ projectToml: projectToml({ auto_promote: false }), agentsToml: commandSlots(1, script) });
      const server = await cluster.server(project.root);
      const health = await getJson<{ confined?: boolean }>(`${server.http}/health`);
      const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Reports", stage: "current" });
      const done = await waitFor(async () => {
        const i = await getJson<Item>(`${server.http}/api/stories/${s.id}`);
        return i.stage !== "current" || i.blocked ? i : undefined;
      }, "the coder's run");
      expect(done.progress).toMatchObject({ text: "from inside" });
      expect(done.stage).toBe("qa");
      // It ran in bwrap, where .huskies/channels is hidden: the socket was reachable through its own mount alone.
      expect(health.confined).toBe(true);
    },
  );
});
