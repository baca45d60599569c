import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as Y from "yjs";
import { STAGES } from "../src/pipeline/stages.js";
import { PipelineDoc } from "../src/state/pipeline-doc.js";
import { Replica } from "../src/state/replica.js";
import { SqliteStore } from "../src/state/sqlite-store.js";
import { startBenchCluster } from "./bench-cluster.js";
import type { BenchResult } from "./stats.js";

const CLOCK_TICKS = 100;

function procSample(pid: number): { rssMb: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { rssMb: Math.round(rssKb / 102.4) / 10, cpuTicks: Number(f[11]) + Number(f[12]) };
}

async function idleAgent(idleSecs: number) {
  const c = await startBenchCluster({ agents: 1, slots: 1 });
  try {
    const pid = c.agents[0]!.proc.pid!;
    const before = procSample(pid);
    let peak = before.rssMb;
    const end = Date.now() + idleSecs * 1000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 1000));
      peak = Math.max(peak, procSample(pid).rssMb);
    }
    const after = procSample(pid);
    return {
      rssMb: after.rssMb,
      peakRssMb: peak,
      cpuPercent: Math.round(((after.cpuTicks - before.cpuTicks) / CLOCK_TICKS / idleSecs) * 1000) / 10,
    };
  } finally {
    await c.stop();
  }
}

function bigReplica(items: number) {
  const dir = mkdtempSync(join(tmpdir(), "huskies-bench-replica-"));
  try {
    const file = join(dir, "replica.db");
    const r = new Replica(new SqliteStore(file));
    for (let i = 0; i < items; i++)
      r.pipeline.createItem({
        name: `Story number ${i}`,
        stage: "done",
        body: `# Story ${i}\n\nAs a user I want feature ${i}.\n\n- [ ] it works\n`,
      });
    r.store.compact(Y.encodeStateAsUpdate(r.doc));
    const docBytes = Y.encodeStateAsUpdate(r.doc).byteLength;
    r.close();
    // Load = what a starting node waits for: the snapshot applied and the stage index built.
    // Decoding every item is not part of it (items are decoded on first use); timed apart.
    const started = performance.now();
    const again = new Replica(new SqliteStore(file));
    const count = STAGES.reduce((n, s) => n + again.pipeline.idsIn(s).size, 0);
    const loadMs = Math.round(performance.now() - started);
    const decodeStarted = performance.now();
    again.pipeline.listItems();
    const decodeAllMs = Math.round(performance.now() - decodeStarted);
    again.close();
    return { items: count, docBytes, sqliteBytes: statSync(file).size, loadMs, decodeAllMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Heartbeats as they really happen: each node writes its own entry in its own replica, every
 * `intervalSecs`, and the rendezvous applies each update. Growth = document size after − before.
 */
function heartbeatGrowth(nodes: number, hours: number, intervalSecs: number) {
  const central = new PipelineDoc();
  const replicas = Array.from({ length: nodes }, (_, i) => {
    const p = new PipelineDoc();
    p.doc.on("update", (u: Uint8Array) => Y.applyUpdate(central.doc, u));
    const id = i.toString(16).padStart(64, "0");
    p.setOwnNode(id, {
      label: `node-${i}`,
      address: `ws://10.0.0.${i}:3002/crdt-sync`,
      role: "agent",
      lastSeen: 0,
      alive: true,
      capacity: { coder: 3, qa: 0, mergemaster: 0 },
    });
    return { p, id };
  });
  const before = Y.encodeStateAsUpdate(central.doc).byteLength;
  const rounds = Math.round((hours * 3600) / intervalSecs);
  for (let round = 1; round <= rounds; round++) {
    for (const { p, id } of replicas) p.setOwnNode(id, { lastSeen: round * intervalSecs * 1000 });
  }
  const after = Y.encodeStateAsUpdate(central.doc).byteLength;
  return {
    nodes,
    hours,
    intervalSecs,
    heartbeats: rounds * nodes,
    docBytesBefore: before,
    docBytesAfter: after,
    growthBytes: after - before,
  };
}

export async function footprint(p: {
  idleSecs: number;
  items: number;
  heartbeatNodes: number;
  heartbeatHours: number;
}): Promise<BenchResult> {
  const idle = await idleAgent(p.idleSecs);
  const replica = bigReplica(p.items);
  const heartbeats = heartbeatGrowth(p.heartbeatNodes, p.heartbeatHours, 15);
  const failures = [...(replica.items !== p.items ? [`replica reloaded ${replica.items} of ${p.items} items`] : [])];
  return {
    bench: "footprint",
    params: p,
    results: {
      idleAgent: idle,
      replica,
      heartbeats,
      targets: {
        idleRssUnder60Mb: idle.peakRssMb <= 60,
        heartbeatGrowthUnder1Mb: heartbeats.growthBytes < 1024 * 1024,
        [`load${p.items}ItemsUnder200ms`]: replica.loadMs <= 200,
      },
    },
    ok: failures.length === 0,
    failures,
  };
}
