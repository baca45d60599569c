import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
const closers: Array<() => void> = [];
afterEach(async () => {
  closers.splice(0).forEach((c) => c());
  await cluster.stopAll();
  project?.cleanup();
});

describe("the log relay", () => {
  it("never fetches a node address planted in the document; logs come from the holder over its sync link", async () => {
    let hits = 0;
    const receiver: Server = createServer((_req, res) => {
      hits += 1;
      res.end("stolen");
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    closers.push(() => receiver.close());
    const trap = `ws://127.0.0.1:${(receiver.address() as { port: number }).port}/crdt-sync`;

    // Without auto-promotion the planted story stays in backlog: if the agent took it, its own log
    // (rightly) would answer instead of the planted node.
    project = createProject({ projectToml: projectToml({ auto_promote: false }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agent = await cluster.agent(project.clone("a"), server.ws);
    const done = await postJson<Item>(`${server.http}/api/stories`, { name: "Logged on the agent", stage: "current" });
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${done.id}`)).stage === "qa",
      "the story worked on the agent",
    );
    // The agent's log, read through the server: relayed over the agent's sync link.
    const relayed = await (await fetch(`${server.http}/api/stories/${done.id}/log`)).text();
    expect(relayed).toContain(`started on node ${agent.nodeId}`);

    // A writer plants a node whose address is the trap and points a story's log at it.
    const liar = ephemeralIdentity().nodeId;
    const doc = new Y.Doc();
    const writer = new WebsocketProvider(`ws://127.0.0.1:${server.port}`, "crdt-sync", doc, {
      WebSocketPolyfill: WebSocket as never,
      disableBc: true,
    });
    closers.push(() => writer.destroy());
    await waitFor(() => writer.synced, "the writer to sync");
    const victim = await postJson<Item>(`${server.http}/api/stories`, { name: "Points elsewhere" });
    await waitFor(() => doc.getMap("items").has(victim.id), "the story to reach the writer");
    const before = (await getJson<{ unverifiedWrites: number }>(`${server.http}/health`)).unverifiedWrites;
    doc.transact(() => {
      const n = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({ label: "liar", role: "agent", address: trap, lastSeen: Date.now(), alive: true })) n.set(k, v);
      doc.getMap("nodes").set(liar, n);
      (doc.getMap("items").get(victim.id) as Y.Map<unknown>).set("logNode", liar);
    });
    // The unsigned logNode is a forgery (§13): the server counts it and never shows it; the relay
    // must not follow it either way.
    await waitFor(
      async () => (await getJson<{ unverifiedWrites: number }>(`${server.http}/health`)).unverifiedWrites > before,
      "the server to see (and ignore) the planted logNode",
    );
    expect((await getJson<Item>(`${server.http}/api/stories/${victim.id}`)).logNode ?? null).not.toBe(liar);
    const res = await fetch(`${server.http}/api/stories/${victim.id}/log`);
    expect(res.status).toBe(404);
    expect(hits).toBe(0);
  });
});
