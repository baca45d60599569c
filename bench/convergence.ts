import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster, postJson, type NodeProc } from "../test/support/cluster.js";
import { createProject } from "../test/support/git-fixture.js";
import { projectToml } from "../test/support/coders.js";
import { waitFor } from "../test/support/wait-for.js";
import type { Item } from "../src/state/item.js";
import { TcpProxy } from "./tcp-proxy.js";
import { DEFAULT_TIMINGS } from "./bench-cluster.js";
import type { BenchResult } from "./stats.js";

async function digests(nodes: NodeProc[]): Promise<Set<string>> {
  return new Set((await Promise.all(nodes.map((n) => n.health()))).map((h) => h.digest));
}

/**
 * Two groups of nodes (a server and its agents each), linked only through the B server's sync
 * link to the A server via a TCP proxy. Cut the proxy, edit on both sides, heal, and time until
 * every replica is identical (same state vector digest). The mesh is off (max_mesh_peers = 0)
 * so the groups really cannot see each other while cut.
 *
 * Nodes heartbeat at the default interval, as in the other benchmarks. At the test suite's 1 s,
 * twenty nodes write twenty heartbeats a second, each in flight for tens of milliseconds, and a
 * reading of twenty replicas rarely finds none in flight: the figure then measured that luck
 * (1.0–2.8 s over runs of the same code, the partition itself healed in under a second).
 */
export async function convergence(p: { nodes: number; editsPerGroup: number; seedItems: number }): Promise<BenchResult> {
  const toml = { max_mesh_peers: 0, auto_promote: false, ...DEFAULT_TIMINGS };
  const project = createProject({ projectToml: projectToml(toml), agentsToml: "" });
  const cluster = new Cluster();
  const env = { HUSKIES_LOG_LEVEL: "info" };
  let proxy: TcpProxy | undefined;
  try {
    const a = await cluster.server(project.root, ["--no-agent"], env);
    proxy = await new TcpProxy(a.port).start();
    const rootB = project.clone("server-b");
    writeFileSync(join(rootB, ".huskies", "project.toml"), projectToml({ ...toml, rendezvous: `ws://127.0.0.1:${proxy.port}/crdt-sync` }));
    const b = await cluster.server(rootB, ["--no-agent"], env);
    const perGroup = p.nodes / 2 - 1;
    const groupA: NodeProc[] = [a];
    const groupB: NodeProc[] = [b];
    for (let i = 0; i < perGroup; i++) {
      groupA.push(await cluster.agent(project.clone(`a${i}`), a.ws, [], env));
      groupB.push(await cluster.agent(project.clone(`b${i}`), b.ws, [], env));
    }
    const all = [...groupA, ...groupB];
    const seeded: string[] = [];
    for (let i = 0; i < p.seedItems; i++) seeded.push((await postJson<Item>(`${a.http}/api/stories`, { name: `Shared ${i}` })).id);
    await waitFor(async () => (await digests(all)).size === 1, "the cluster to converge before the split", 60_000, 100);

    proxy.cut();
    const edit = async (server: NodeProc, tag: string) => {
      for (let i = 0; i < p.editsPerGroup; i++) {
        await fetch(`${server.http}/api/stories/${seeded[i % seeded.length]}`, {
          method: "PATCH",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ body: `${tag} edit ${i}` }),
        });
      }
    };
    await Promise.all([edit(a, "A"), edit(b, "B")]);
    // One reading of every replica: each group settled in it, and how many replicas it shows
    // (a heartbeat between two separate readings would count a group twice).
    const split = await waitFor(
      async () => {
        const seen = await Promise.all(all.map((n) => n.health().then((h) => h.digest)));
        const a = new Set(seen.slice(0, groupA.length));
        const b = new Set(seen.slice(groupA.length));
        return a.size === 1 && b.size === 1 ? new Set(seen).size : undefined;
      },
      "each group to settle",
      60_000,
      50,
    );

    const linkUpsBefore = b.logged("sync link up").length;
    const healedAt = Date.now();
    proxy.heal();
    await waitFor(async () => (await digests(all)).size === 1, "all replicas identical after healing", 120_000, 20);
    const convergedMs = Date.now() - healedAt;
    const reconnect = b.logged("sync link up")[linkUpsBefore];
    const reconnectMs = reconnect ? Number(reconnect.time) - healedAt : null;
    const failures = split === 2 ? [] : [`the groups were not actually split (distinct replicas: ${split})`];
    return {
      bench: "convergence",
      params: p,
      results: {
        healToIdenticalMs: convergedMs,
        reconnectMs,
        syncAfterReconnectMs: reconnectMs === null ? null : convergedMs - reconnectMs,
        identical: true,
      },
      ok: failures.length === 0,
      failures,
    };
  } finally {
    await proxy?.close();
    await cluster.stopAll();
    project.cleanup();
  }
}
