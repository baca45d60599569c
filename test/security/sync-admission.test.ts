import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Cluster, getJson, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DocClient } from "../support/doc-client.js";
import { waitFor } from "../support/wait-for.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import type { NodeEntry } from "../../src/state/item.js";

const ADMIN = "admission-test-admin-token";
const auth = { authorization: `Bearer ${ADMIN}` };
const cluster = new Cluster();
let project: Project | undefined;
const closers: Array<() => void> = [];
afterEach(async () => {
  closers.splice(0).forEach((c) => c());
  await cluster.stopAll();
  project?.cleanup();
});

async function joinToken(server: NodeProc): Promise<string> {
  const res = await fetch(`${server.http}/api/tokens`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ ttlSecs: 600 }),
  });
  const body = (await res.json()) as { token: string };
  return body.token;
}

/** Try to sync with `url` as `identity`; resolves "synced" or the close reason the acceptor logged. */
async function tryLink(url: string, client: DocClient): Promise<"synced" | "refused"> {
  try {
    const link = await Promise.race([
      client.link(url),
      new Promise<never>((_r, reject) => setTimeout(() => reject(new Error("timeout")), 4000)),
    ]);
    void link;
    return "synced";
  } catch {
    return "refused";
  } finally {
    client.close();
  }
}

describe("admission", () => {
  it("a key planted in `nodes` by an authenticated writer is not admitted, by the rendezvous or by an agent", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const agent = await cluster.agent(project.clone("a"), server.ws, ["--join-token", await joinToken(server)]);
    await waitFor(async () => (await agent.health()).rendezvous.connected, "the agent admitted by its join token");

    // A writer with the admin token plants an entry for a key of its choice.
    const intruder = ephemeralIdentity();
    const doc = new Y.Doc();
    const board = new WebsocketProvider(`ws://127.0.0.1:${server.port}`, "crdt-sync", doc, {
      WebSocketPolyfill: WebSocket as never,
      params: { token: ADMIN },
      disableBc: true,
    });
    closers.push(() => board.destroy());
    await waitFor(() => board.synced, "the admin-token client to sync");
    const planted = new Y.Map<unknown>();
    for (const [k, v] of Object.entries({
      label: "planted",
      role: "agent",
      address: "ws://127.0.0.1:1/crdt-sync",
      lastSeen: Date.now(),
      alive: true,
    }))
      planted.set(k, v);
    doc.getMap("nodes").set(intruder.nodeId, planted);
    // Another admitted replica, linked to the rendezvous and to the agent, sees the plant arrive.
    const observer = new DocClient();
    closers.push(() => observer.close());
    await observer.link(server.ws, { token: ADMIN });
    await observer.link(agent.ws);
    await waitFor(() => observer.doc.getMap("nodes").has(intruder.nodeId), "the planted entry to spread");

    expect(await tryLink(server.ws, new DocClient(intruder))).toBe("refused");
    expect(await tryLink(agent.ws, new DocClient(intruder))).toBe("refused");
    // Nor does the planted entry show as a node anywhere (it is not signed by that key).
    const nodes = await getJson<NodeEntry[]>(`${server.http}/api/nodes`, { headers: auth });
    expect(nodes.map((n) => n.id)).not.toContain(intruder.nodeId);
  });

  it("`huskies node revoke` closes the key's links everywhere within seconds and refuses it afterwards", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const [a, b] = [
      await cluster.agent(project.clone("a"), server.ws, ["--join-token", await joinToken(server)]),
      await cluster.agent(project.clone("b"), server.ws, ["--join-token", await joinToken(server)]),
    ];
    // Agents of a project that requires auth show only counts in their public /health.
    const meshed = async (n: NodeProc) => ((await n.health()).mesh as unknown as { connectedCount: number }).connectedCount;
    await waitFor(async () => (await meshed(a)) === 1 && (await meshed(b)) === 1, "the two agents meshed");

    const { runCli } = await import("../support/cluster.js");
    const revoked = await runCli(["node", "revoke", a.nodeId], { env: { HUSKIES_SERVER: server.http, HUSKIES_ADMIN_TOKEN: ADMIN } });
    expect(revoked.code).toBe(0);
    await waitFor(
      async () => !(await a.health()).rendezvous.connected && (await meshed(b)) === 0,
      "a's links closed on the rendezvous and on b",
      15_000,
    );
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && /revoked/.test(String(l.reason))),
      "the rendezvous refusing a afterwards",
    );
    expect((await b.health()).rendezvous.connected).toBe(true);
  });

  it("taking a key out of trusted_keys revokes it", async () => {
    const trusted = ephemeralIdentity();
    project = createProject({
      projectToml: projectToml({ auth: "required" }).replace("[gates]", `trusted_keys = ["${trusted.nodeId}"]\n\n[gates]`),
    });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const client = new DocClient(trusted);
    closers.push(() => client.close());
    const link = await client.link(server.ws);
    const file = join(project.root, ".huskies", "project.toml");
    writeFileSync(file, readFileSync(file, "utf8").replace(/trusted_keys = .*\n/, "trusted_keys = []\n"));
    await waitFor(() => !link.connected, "the link closed once the key is no longer trusted", 15_000);
    expect(await tryLink(server.ws, new DocClient(trusted))).toBe("refused");
  });
});
