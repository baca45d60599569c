import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const ADMIN = "recovery-admin";
const auth = { authorization: `Bearer ${ADMIN}` };
const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

const stories = (node: NodeProc) => getJson<Item[]>(`${node.http}/api/stories`, { headers: auth });
const post = (node: NodeProc, path: string, body: unknown) =>
  getJson<Item>(`${node.http}${path}`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function mint(server: NodeProc): Promise<string> {
  const out = await runCli(["token", "create", "--ttl", "10m"], { env: { HUSKIES_SERVER: server.http, HUSKIES_ADMIN_TOKEN: ADMIN } });
  expect(out.code, out.stderr).toBe(0);
  return out.stdout.split("\n")[0]!;
}

const joinAgent = async (root: string, join: string) =>
  cluster.spawn("agent", ["agent", root, "--join", join, "--port", "0"], { env: { HUSKIES_ADMIN_TOKEN: ADMIN } }).ready();

const pinnedKey = (root: string) =>
  (JSON.parse(readFileSync(join(root, ".huskies", "rendezvous.json"), "utf8")) as { nodeId: string }).nodeId;

const errorLines = (lines: Array<{ msg?: string }>) => lines.map((l) => l.msg ?? "").filter((m) => m.startsWith("error:"));

describe("recovering a lost rendezvous from an agent's replica", () => {
  it("with the rendezvous' directory deleted, serve --from-replica brings the project back; pinned agents stop with the re-join command; re-joined agents work again", async () => {
    project = createProject({
      projectToml: 'auth = "required"\n' + projectToml({ auto_promote: false }),
      agentsToml: commandSlots(1),
    });
    const env = { HUSKIES_ADMIN_TOKEN: ADMIN };
    const old = await cluster.server(project.root, ["--no-agent"], env);
    const rootA = project.clone("agent-a");
    const rootB = project.clone("agent-b");
    const a = await joinAgent(rootA, await mint(old));
    const b = await joinAgent(rootB, await mint(old));

    for (const name of ["Worked one", "Worked two", "Worked three"]) await post(old, "/api/stories", { name, stage: "current" });
    for (const name of ["Waiting one", "Waiting two"]) await post(old, "/api/stories", { name, stage: "backlog" });
    await waitFor(async () => (await stories(old)).filter((i) => i.stage === "qa").length === 3, "three stories worked to qa", 60_000);
    await waitFor(async () => (await a.health()).digest === (await old.health()).digest, "agent A to hold what the rendezvous holds");
    const heldByA = (await stories(a)).map((i) => i.id).sort();
    expect(heldByA).toHaveLength(5);

    // The rendezvous' disk is gone: its process, its checkout, its key.
    const port = old.port;
    await old.stop();
    rmSync(project.root, { recursive: true, force: true });

    // A new checkout becomes the rendezvous, at the old address, from agent A's replica (A still runs).
    const fresh = project.clone("new-rendezvous");
    const recovered = await cluster
      .spawn("recovered", ["serve", fresh, "--from-replica", rootA, "--no-agent", "--port", String(port)], { env })
      .ready();
    expect(recovered.nodeId).not.toBe(old.nodeId);
    await waitFor(() => recovered.stdout.length >= 4, "the recovery report");
    expect(recovered.stdout[0]).toBe(
      `recovered 5 stories (2 backlog, 3 qa) from the replica of agent ${a.nodeId.slice(0, 12)} (${rootA}/.huskies)`,
    );
    expect(recovered.stdout[1]).toBe(
      "stories the lost rendezvous acknowledged but no agent had received are not in it and cannot come back",
    );
    expect((await stories(recovered)).map((i) => i.id).sort()).toEqual(heldByA);

    // Both agents reach the old address again, meet another key, and stop with one line naming the way back.
    const refusal = `error: refusing ws://127.0.0.1:${port}/crdt-sync: node ${recovered.nodeId} answered, this checkout follows rendezvous ${old.nodeId} (.huskies/rendezvous.json); if this project's rendezvous was replaced (huskies serve --from-replica), re-join with a join string from the new one: huskies agent --join JOIN`;
    for (const agent of [a, b]) {
      expect((await agent.exited).code).toBe(1);
      expect(errorLines(agent.logs)).toEqual([refusal]);
    }
    // Restarted without --join, the stored pin refuses the same way.
    const restarted = await runCli(["agent", rootB, "--port", "0"], { env });
    expect(restarted.code).toBe(1);
    expect(restarted.stderr.split("\n").filter((l) => l.startsWith("error:"))).toEqual([refusal]);

    // The documented way back: a join string each from the new rendezvous.
    const a2 = await joinAgent(rootA, await mint(recovered));
    const b2 = await joinAgent(rootB, await mint(recovered));
    expect([a2.nodeId, b2.nodeId]).toEqual([a.nodeId, b.nodeId]);
    await waitFor(
      async () => (await a2.health()).rendezvous.connected && (await b2.health()).rendezvous.connected,
      "both agents re-joined",
    );

    // Agents work again: a story from before the loss and a new one reach qa.
    const waiting = (await stories(recovered)).find((i) => i.name === "Waiting one")!;
    await post(recovered, `/api/stories/${waiting.id}/move`, { stage: "current" });
    const created = await post(recovered, "/api/stories", { name: "After the loss", stage: "current" });
    await waitFor(
      async () => (await stories(recovered)).filter((i) => [waiting.id, created.id].includes(i.id) && i.stage === "qa").length === 2,
      "the re-joined agents to work both stories",
      60_000,
    );
    // The numbering went on from what the replica held, so the new story got a fresh number.
    expect(heldByA).not.toContain(created.id);
  }, 300_000);

  it("with an operator key, the recovered rendezvous' handover lets agents that list the key follow it on their own; an agent that does not stops with the re-join command", async () => {
    // A person's operator key, kept off the project's machines (here: a temp file), listed in the committed project.toml.
    const keyFile = join(tmpdir(), `huskies-operator-${process.pid}-${Date.now()}.key`);
    const made = await runCli(["operator-key", keyFile]);
    expect(made.code, made.stderr).toBe(0);
    const operatorKey = made.stdout.trim();
    expect(operatorKey).toMatch(/^[0-9a-f]{64}$/);
    project = createProject({
      projectToml: `auth = "required"\noperator_keys = ["${operatorKey}"]\n` + projectToml({ auto_promote: false }),
      agentsToml: commandSlots(1),
    });
    const env = { HUSKIES_ADMIN_TOKEN: ADMIN };
    try {
      const old = await cluster.server(project.root, ["--no-agent"], env);
      const rootA = project.clone("agent-a");
      const rootB = project.clone("agent-b");
      const rootC = project.clone("agent-c");
      // Agent C's checkout does not list the operator key (an edited, older or foreign project.toml).
      const tomlC = join(rootC, ".huskies", "project.toml");
      writeFileSync(tomlC, readFileSync(tomlC, "utf8").replace(/^operator_keys = .*$/m, ""));
      const [a, b, c] = [
        await joinAgent(rootA, await mint(old)),
        await joinAgent(rootB, await mint(old)),
        await joinAgent(rootC, await mint(old)),
      ];

      for (const name of ["Worked one", "Worked two", "Worked three"]) await post(old, "/api/stories", { name, stage: "current" });
      for (const name of ["Waiting one", "Waiting two"]) await post(old, "/api/stories", { name, stage: "backlog" });
      await waitFor(async () => (await stories(old)).filter((i) => i.stage === "qa").length === 3, "three stories worked to qa", 60_000);
      await waitFor(async () => (await a.health()).digest === (await old.health()).digest, "agent A to hold what the rendezvous holds");
      const heldByA = (await stories(a)).map((i) => i.id).sort();
      expect(heldByA).toHaveLength(5);

      const port = old.port;
      await old.stop();
      rmSync(project.root, { recursive: true, force: true });

      const fresh = project.clone("new-rendezvous");
      const recovered = await cluster
        .spawn("recovered", ["serve", fresh, "--from-replica", rootA, "--operator-key", keyFile, "--no-agent", "--port", String(port)], {
          env,
        })
        .ready();
      await waitFor(() => recovered.stdout.length >= 4, "the recovery report");
      expect(recovered.stdout[0]).toBe(
        `recovered 5 stories (2 backlog, 3 qa) from the replica of agent ${a.nodeId.slice(0, 12)} (${rootA}/.huskies)`,
      );
      expect(recovered.stdout[3]).toContain(`handover signed by operator key ${operatorKey.slice(0, 12)}`);
      expect((await stories(recovered)).map((i) => i.id).sort()).toEqual(heldByA);

      // A and B follow the new key without a join string (same processes, no restart) and re-pin it.
      await waitFor(
        async () => (await a.health()).rendezvous.connected && (await b.health()).rendezvous.connected,
        "agents A and B to follow the recovered rendezvous",
        60_000,
      );
      expect([pinnedKey(rootA), pinnedKey(rootB)]).toEqual([recovered.nodeId, recovered.nodeId]);
      expect(a.proc.exitCode).toBeNull();
      expect(b.proc.exitCode).toBeNull();
      // C does not list the operator key: one line naming why and the way back, exit 1.
      expect((await c.exited).code).toBe(1);
      expect(errorLines(c.logs)).toEqual([
        `error: refusing ws://127.0.0.1:${port}/crdt-sync: node ${recovered.nodeId} answered (not followed: its handover is signed by ${operatorKey.slice(0, 12)}, not one of this checkout's operator_keys), this checkout follows rendezvous ${old.nodeId} (.huskies/rendezvous.json); if this project's rendezvous was replaced (huskies serve --from-replica), re-join with a join string from the new one: huskies agent --join JOIN`,
      ]);
      expect(pinnedKey(rootC)).toBe(old.nodeId);

      // Work goes on through the agents that followed: a story from before the loss and a new one reach qa.
      const waiting = (await stories(recovered)).find((i) => i.name === "Waiting one")!;
      await post(recovered, `/api/stories/${waiting.id}/move`, { stage: "current" });
      const created = await post(recovered, "/api/stories", { name: "After the loss", stage: "current" });
      await waitFor(
        async () => (await stories(recovered)).filter((i) => [waiting.id, created.id].includes(i.id) && i.stage === "qa").length === 2,
        "the agents that followed to work both stories",
        60_000,
      );
      expect(heldByA).not.toContain(created.id);

      // A restarted agent keeps following the new key from its pin, with no join string.
      await a.stop();
      const a2 = await cluster.spawn("agent-a2", ["agent", rootA, "--port", "0"], { env }).ready();
      await waitFor(async () => (await a2.health()).rendezvous.connected, "agent A to reconnect after a restart");
    } finally {
      rmSync(keyFile, { force: true });
    }
  }, 300_000);
});
