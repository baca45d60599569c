import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
const providers: WebsocketProvider[] = [];
afterEach(async () => {
  providers.splice(0).forEach((p) => p.destroy());
  await cluster.stopAll();
  project?.cleanup();
});

describe("poisoned document entries", () => {
  it("entries of the wrong shape written by a synced stock client stop nothing, now or after a restart", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const port = server.port;
    const agents = await Promise.all([1, 2].map((i) => cluster.agent(project!.clone(`a${i}`), server.ws)));

    // Any Yjs client the server admits can write anything: a stock y-websocket provider does.
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(`ws://127.0.0.1:${port}`, "crdt-sync", doc, {
      WebSocketPolyfill: WebSocket as never,
      disableBc: true,
    });
    providers.push(provider);
    await waitFor(() => provider.synced, "the stock client to sync");
    doc.transact(() => {
      doc.getMap("items").set("9_story_poison", "boom");
      doc.getMap("nodes").set("zz", "boom");
      doc.getMap("nodes").set("ab".repeat(32), 42);
      const badId = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({
        id: "../../escape",
        name: "Escape",
        type: "story",
        stage: "current",
        claim: null,
        requests: new Y.Map(),
      }))
        badId.set(k, v);
      doc.getMap("items").set("../../escape", badId);
      const badClaim = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({
        id: "8_story_bad_claim",
        name: "Bad claim",
        type: "story",
        stage: "current",
        claim: "mine",
        requests: "all",
      }))
        badClaim.set(k, v);
      doc.getMap("items").set("8_story_bad_claim", badClaim);
    });

    // Every process keeps running and new stories still flow to qa.
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "After the poison", stage: "current" });
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa", "a new story to reach qa");
    for (const n of [server, ...agents]) expect(n.proc.exitCode).toBeNull();
    const health = await getJson<{ malformedEntries: number }>(`${server.http}/health`);
    expect(health.malformedEntries).toBeGreaterThanOrEqual(3);
    expect((await getJson<{ unverifiedWrites: number }>(`${server.http}/health`)).unverifiedWrites).toBeGreaterThanOrEqual(1);
    expect(server.logged("ignoring a malformed document entry").length).toBeGreaterThanOrEqual(3);

    // The poison is persisted: a restart with that replica works all the same.
    provider.destroy();
    await server.stop();
    const again = await cluster.server(project.root, ["--no-agent", "--port", String(port)]);
    const t = await postJson<Item>(`${again.http}/api/stories`, { name: "After the restart", stage: "current" });
    await waitFor(
      async () => (await getJson<Item>(`${again.http}/api/stories/${t.id}`)).stage === "qa",
      "a story to reach qa after the restart",
      60_000,
    );
    const ids = (await getJson<Item[]>(`${again.http}/api/stories`)).map((i) => i.id);
    expect(ids).not.toContain("9_story_poison");
    // An item no operator signed is a forgery (§13): ignored by every reader, deleted by the rendezvous.
    expect(ids).not.toContain("8_story_bad_claim");
    expect(ids).not.toContain("../../escape");
  });
});
