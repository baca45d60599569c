import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { Cluster, type NodeProc } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DocClient } from "../support/doc-client.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { admittedNonOperator, joinTokenFrom } from "../support/mallory.js";
import { waitFor } from "../support/wait-for.js";
import { documentDigest } from "../../src/state/digest.js";

const ADMIN = "revocations-stick-admin-token";
const env = { HUSKIES_ADMIN_TOKEN: ADMIN };
const cluster = new Cluster();
let project: Project | undefined;
const clients: DocClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await cluster.stopAll();
  project?.cleanup();
});

async function post(node: NodeProc, path: string, body: unknown = {}, method = "POST"): Promise<void> {
  const res = await fetch(`${node.http}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: method === "DELETE" ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
}

const paused = async (n: NodeProc) => ((await n.health()) as unknown as { paused: { reason: string } | null }).paused;

/** Until `client`'s replica and `node`'s are identical (the write reached the node). */
async function reached(client: DocClient, node: NodeProc): Promise<void> {
  await waitFor(async () => (await node.health()).digest === documentDigest(client.doc), `${node.name} to have the write`);
}

describe("revocations and directives stick (issue 27)", () => {
  it("a revoked key stays refused after another node deletes its revocation, and after every node restarts", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    let server = await cluster.server(project.root, ["--no-agent"], env);
    const port = server.port;
    const rootB = project.clone("b");
    const rootX = project.clone("x");
    let b = await cluster.agent(rootB, server.ws, ["--join-token", await joinTokenFrom(server, ADMIN)], env);
    let x = await cluster.agent(rootX, server.ws, ["--join-token", await joinTokenFrom(server, ADMIN)]);
    const mallory = await admittedNonOperator(cluster, server, project.clone("m"), ADMIN);
    clients.push(mallory);
    await waitFor(async () => (await x.health()).rendezvous.connected, "x linked");

    await post(server, `/api/nodes/${x.nodeId}`, undefined, "DELETE");
    await waitFor(async () => !(await x.health()).rendezvous.connected, "x's link closed");
    await x.stop();
    // With the rendezvous down, mallory deletes the entry on b.
    await server.stop();
    await mallory.link(b.ws);
    const revocations = mallory.doc.getMap("revocations") as Y.Map<unknown>;
    expect(revocations.has(x.nodeId)).toBe(true);
    revocations.delete(x.nodeId);
    await reached(mallory, b);
    mallory.close();

    // Every node restarts; x comes back with its old certificate.
    await b.stop();
    b = await cluster.agent(rootB, `ws://127.0.0.1:${port}/crdt-sync`, [], env);
    server = await cluster.server(project.root, ["--no-agent", "--port", String(port)], env);
    await waitFor(async () => (await b.health()).rendezvous.connected, "b back on the rendezvous");
    x = await cluster.agent(rootX, server.ws);
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && /revoked/.test(String(l.reason))),
      "the rendezvous refusing x",
    );
    expect((await x.health()).rendezvous.connected).toBe(false);
    // The rendezvous wrote the deleted entry back into the document.
    const reader = new DocClient();
    clients.push(reader);
    await reader.link(server.ws, { token: ADMIN });
    await waitFor(() => reader.doc.getMap("revocations").has(x.nodeId), "the revocation written back");
  });

  it("a replayed older directive and a deleted one are ignored, across a restart", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    let server = await cluster.server(project.root, ["--no-agent"], env);
    const port = server.port;
    const rootA = project.clone("a");
    let a = await cluster.agent(rootA, server.ws, ["--join-token", await joinTokenFrom(server, ADMIN)], env);
    const mallory = await admittedNonOperator(cluster, server, project.clone("m"), ADMIN);
    clients.push(mallory);
    const control = mallory.doc.getMap("control") as Y.Map<unknown>;

    // The operator pauses a; mallory keeps a copy of that (validly signed) directive.
    await post(server, `/api/nodes/${a.nodeId}/pause`, { reason: "first pause" });
    await waitFor(async () => (await paused(a))?.reason === "first pause", "a paused");
    await waitFor(() => (control.get(a.nodeId) as { pause?: unknown } | undefined)?.pause, "mallory to see the directive");
    const oldPause = { ...(control.get(a.nodeId) as Record<string, unknown>) };
    await post(server, `/api/nodes/${a.nodeId}/resume`);
    await waitFor(async () => (await paused(a)) === null, "a resumed");

    // Replayed with the rendezvous down, then a restarts: it stays resumed.
    await server.stop();
    await mallory.link(a.ws);
    control.set(a.nodeId, oldPause);
    await reached(mallory, a);
    expect(await paused(a)).toBeNull();
    await a.stop();
    a = await cluster.agent(rootA, `ws://127.0.0.1:${port}/crdt-sync`, [], env);
    expect(await paused(a)).toBeNull();
    mallory.close();

    // Paused again; the directive deleted while a is paused; a restarts: it stays paused.
    server = await cluster.server(project.root, ["--no-agent", "--port", String(port)], env);
    await waitFor(async () => (await a.health()).rendezvous.connected, "a back on the rendezvous");
    await post(server, `/api/nodes/${a.nodeId}/pause`, { reason: "second pause" });
    await waitFor(async () => (await paused(a))?.reason === "second pause", "a paused again");
    await server.stop();
    const again = new DocClient(mallory.identity, { signs: true, operators: [server.nodeId] });
    again.certificate = mallory.certificate;
    clients.push(again);
    await again.link(a.ws);
    (again.doc.getMap("control") as Y.Map<unknown>).delete(a.nodeId);
    await reached(again, a);
    await a.stop();
    a = await cluster.agent(rootA, `ws://127.0.0.1:${port}/crdt-sync`, [], env);
    expect((await paused(a))?.reason).toBe("second pause");
  });
});
