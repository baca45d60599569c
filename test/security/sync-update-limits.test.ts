import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { Cluster, postJson } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DocClient } from "../support/doc-client.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { admittedNonOperator, joinTokenFrom } from "../support/mallory.js";
import { waitFor } from "../support/wait-for.js";
import type { SyncClient } from "../../src/sync/sync-client.js";

const ADMIN = "update-limits-admin-token";
const cluster = new Cluster();
let project: Project | undefined;
const clients: DocClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await cluster.stopAll();
  project?.cleanup();
});

describe("what a peer may send (issue 27)", () => {
  it("an 8 MB update from an agent is refused before it is applied, an update outside the document's roots too, and a new node still joins", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(0) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    await postJson(`${server.http}/api/stories`, { name: "Existing" }, ADMIN);
    const mallory = await admittedNonOperator(cluster, server, project.clone("m"), ADMIN);
    clients.push(mallory);
    const link = (mallory as unknown as { links: SyncClient[] }).links[0]!;

    // 8 MB in one update: sent in chunks (so no frame limit stops it), refused whole on arrival.
    mallory.doc.transact(() => {
      const big = new Y.Map<unknown>();
      mallory.doc.getMap("items").set("9_story_huge", big);
      big.set("body", "x".repeat(8 * 1024 * 1024));
    });
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && /max_update_bytes/.test(String(l.reason)) && l.code === 1009),
      "the rendezvous to refuse the update",
    );
    await waitFor(() => !link.connected, "mallory's link closed");

    // A small update under a root nobody reads is refused too.
    const other = new DocClient(mallory.identity, { signs: true, operators: [server.nodeId] });
    other.certificate = mallory.certificate;
    clients.push(other);
    await other.link(server.ws);
    other.doc.getMap("junk").set("k", "v".repeat(1000));
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && /outside the document's roots/.test(String(l.reason))),
      "the rendezvous to refuse the unknown root",
    );
    // Neither reached the rendezvous' replica.
    const reader = new DocClient();
    clients.push(reader);
    await reader.link(server.ws, { token: ADMIN });
    expect(reader.doc.getMap("items").has("9_story_huge")).toBe(false);
    expect(reader.doc.getMap("junk").size).toBe(0);

    // A new node joins and syncs the whole (small) document.
    const fresh = await cluster.agent(project.clone("fresh"), server.ws, ["--join-token", await joinTokenFrom(server, ADMIN)]);
    await waitFor(async () => (await fresh.health()).digest === (await server.health()).digest, "the new agent in sync");
    expect((await fresh.health()).items).toBe(1);
  });
});
