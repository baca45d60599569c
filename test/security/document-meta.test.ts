import { afterEach, describe, expect, it } from "vitest";
import { Cluster, type NodeProc } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import type { DocClient } from "../support/doc-client.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { admittedNonOperator } from "../support/mallory.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const ADMIN = "document-meta-admin-token";
const cluster = new Cluster();
let project: Project | undefined;
const clients: DocClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await cluster.stopAll();
  project?.cleanup();
});

/** POST a story; a rendezvous whose event loop is stuck never answers, so give up after a generous bound. */
async function file(server: NodeProc, name: string): Promise<Item> {
  const res = await fetch(`${server.http}/api/stories`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(30_000),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Item;
}

async function story(server: NodeProc, id: string): Promise<Item | undefined> {
  const res = await fetch(`${server.http}/api/stories/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return res.status === 404 ? undefined : ((await res.json()) as Item);
}

async function unverified(node: NodeProc): Promise<number> {
  return Number(((await node.health()) as unknown as { unverifiedWrites?: number }).unverifiedWrites ?? 0);
}

describe("the document's meta map, written by an admitted non-operator", () => {
  it("a forged meta.lastNumber at 2^53 does not hang the rendezvous: stories of the same name still get distinct ids", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const mallory = await admittedNonOperator(cluster, server, project.clone("m"), ADMIN);
    clients.push(mallory);
    const first = await file(server, "Fix the bug");
    await waitFor(() => mallory.pipeline.items.has(first.id), "mallory to see the first story");
    // At 2^53, n + 1 === n: the id allocator would retry the same taken id for ever. An unsigned
    // item planted in the same transaction is counted by the rendezvous when the update arrives.
    mallory.doc.transact(() => {
      mallory.doc.getMap("meta").set("lastNumber", 2 ** 53);
      mallory.pipeline.createItem({ name: "marker" });
    });
    await waitFor(async () => (await unverified(server)) > 0, "the forged counter to reach the rendezvous");
    const second = await file(server, "Fix the bug");
    const third = await file(server, "Fix the bug");
    const ids = new Set([first.id, second.id, third.id]);
    expect(ids.size).toBe(3);
    for (const id of ids) expect(Number(id.split("_")[0])).toBeLessThan(2 ** 53);
    expect((await fetch(`${server.http}/health`, { signal: AbortSignal.timeout(10_000) })).ok).toBe(true);
  });

  it("an item deleted by a peer is put back by the rendezvous as last signed; the operator's own deletion still holds", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const mallory = await admittedNonOperator(cluster, server, project.clone("m"), ADMIN);
    clients.push(mallory);
    const kept = await file(server, "Keep me");
    const removed = await file(server, "Remove me");
    await waitFor(() => mallory.pipeline.items.has(kept.id) && mallory.pipeline.items.has(removed.id), "mallory to see both stories");
    const before = await unverified(server);
    mallory.doc.getMap("items").delete(kept.id);
    await waitFor(async () => (await unverified(server)) > before, "the deletion counted on the rendezvous");
    await waitFor(() => mallory.pipeline.items.has(kept.id), "the story written back to mallory's replica");
    const back = await story(server, kept.id);
    expect(back?.name).toBe("Keep me");
    expect(back?.stage).toBe("backlog");
    expect(mallory.pipeline.getItem(kept.id)?.name).toBe("Keep me");
    // The operator deletes through the rendezvous: that deletion is not undone.
    const del = await fetch(`${server.http}/api/stories/${removed.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(del.status).toBe(204);
    await waitFor(() => !mallory.pipeline.items.has(removed.id), "the operator's deletion to reach mallory");
    // A story filed afterwards reaches mallory after any (wrong) restore would have.
    const later = await file(server, "Later");
    await waitFor(() => mallory.pipeline.items.has(later.id), "a later story");
    expect(await story(server, removed.id)).toBeUndefined();
    expect(mallory.pipeline.items.has(removed.id)).toBe(false);
  });

  it("a meta.schema written by a non-operator (newer, or not a number) makes no node read-only: the rendezvous writes its own back and work goes on", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const token = await (
      await fetch(`${server.http}/api/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ ttlSecs: 600 }),
      })
    ).json();
    const worker = await cluster.agent(project.clone("a"), server.ws, ["--join-token", (token as { token: string }).token], {
      HUSKIES_ADMIN_TOKEN: ADMIN,
    });
    const mallory = await admittedNonOperator(cluster, server, project.clone("m"), ADMIN);
    clients.push(mallory);
    const first = await file(server, "Before");
    await waitFor(() => mallory.pipeline.items.has(first.id), "mallory to see the first story");
    const meta = mallory.doc.getMap("meta");
    const understood = meta.get("schema");
    for (const forged of [999, "not a number"]) {
      const before = await unverified(server);
      meta.set("schema", forged);
      await waitFor(async () => (await unverified(server)) > before, `the forged schema ${forged} counted on the rendezvous`);
      await waitFor(() => meta.get("schema") === understood, "the rendezvous' schema written back");
      for (const node of [server, worker]) {
        const h = (await node.health()) as unknown as { readOnly?: string };
        expect(h.readOnly, node.name).toBeUndefined();
      }
    }
    // The project still takes writes and the worker still takes work.
    const s = await fetch(`${server.http}/api/stories`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "After", stage: "current" }),
    });
    expect(s.status).toBe(201);
    const after = (await s.json()) as Item;
    await waitFor(async () => (await story(server, after.id))?.stage === "qa", "the worker to do the story", 60_000);
  });
});
