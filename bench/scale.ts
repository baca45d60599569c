import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoryLogs } from "../src/runtime/story-log.js";
import type { Item } from "../src/state/item.js";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { CLI, Cluster, NodeProc } from "../test/support/cluster.js";
import { GIT_ENV } from "../test/support/git-fixture.js";
import { projectToml } from "../test/support/coders.js";
import { createProject } from "../test/support/git-fixture.js";
import { configOf } from "../test/support/in-process.js";
import { waitFor } from "../test/support/wait-for.js";
import { fillerPlaceholder, writeFiller, type Filler } from "./filler.js";
import { cpuMs, logLogSlope, rssMb } from "./proc-stats.js";
import { SimAgent, type SimEvents } from "./sim-agent.js";
import { percentiles, type BenchResult } from "./stats.js";

export interface ScaleParams {
  /** Fleet sizes, measured in this order on one rendezvous (agents are added, never removed). */
  agents: number[];
  /** Filler items in the document, one rendezvous each. */
  items: number[];
  /** Stories per work phase, posted at `storiesPerSec`. */
  stories: number;
  storiesPerSec: number;
  /** Length of the heartbeat-only phase. */
  idleSecs: number;
  /** Heartbeat and scan interval of every node (the default is 15 s). */
  scanIntervalSecs: number;
  /** Agents that hold the real filler (the others a placeholder, see `fillerPlaceholder`). */
  fullReplicaAgents: number;
}

interface Point {
  items: number;
  agents: number;
  heartbeats: number;
  idleCpuMs: number;
  cpuMsPerHeartbeat: number;
  grants: number;
  workMs: number;
  workCpuMs: number;
  /** Work-phase CPU per grant, all of it (REST create, grant, relays, the heartbeats meanwhile). */
  cpuMsPerGrant: number;
  /** The same without the heartbeat cost measured in the idle phase. */
  netCpuMsPerGrant: number;
  grantMs: ReturnType<typeof percentiles>;
  fullReplicaGrantMs: ReturnType<typeof percentiles>;
  rendezvousRssMb: number;
}

/**
 * `huskies serve --no-agent` as its own process (its CPU and memory are what we measure). Node
 * flags for it come from HUSKIES_BENCH_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to
 * profile the rendezvous under this load (NODE_OPTIONS does not allow --cpu-prof).
 */
async function startRendezvous(cluster: Cluster, root: string): Promise<NodeProc> {
  const flags = (process.env.HUSKIES_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn(process.execPath, [...flags, CLI, "serve", root, "--port", "0", "--no-agent"], {
    env: { ...process.env, ...GIT_ENV, HUSKIES_LOG_FORMAT: "json", HUSKIES_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const node = new NodeProc(proc, "rendezvous");
  cluster.procs.push(node);
  return node.ready();
}

/**
 * POST a story on a fresh connection. A kept-alive connection can be closed by the server's idle
 * timeout just as a request goes out on it when this process is busy, and a POST is not retried.
 */
function createStory(base: string, body: unknown): Promise<Item> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/stories`, { method: "POST", agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => {
        if (res.statusCode !== 201) reject(new Error(`POST /api/stories: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text) as Item);
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One rendezvous process with `items` filler items; the fleet grows through `p.agents`. */
async function runItems(p: ScaleParams, items: number, failures: string[]): Promise<{ points: Point[]; loadRssMb: number }> {
  const toml = { default_qa: "human", auto_promote: false, scan_interval_secs: p.scanIntervalSecs, node_alive_secs: 4 * p.scanIntervalSecs, mesh_scan_interval_secs: 60, max_mesh_peers: 0 };
  const project = createProject({ projectToml: projectToml(toml), agentsToml: "" });
  const scratch = mkdtempSync(join(tmpdir(), "huskies-scale-"));
  const cluster = new Cluster();
  const agents: SimAgent[] = [];
  const points: Point[] = [];
  try {
    const filler: Filler = writeFiller(project.root, items);
    const placeholder = fillerPlaceholder(filler.stateVector);
    const server = await startRendezvous(cluster, project.root);
    const pid = server.proc.pid!;
    const loadRssMb = rssMb(pid);
    const logs = new StoryLogs(join(scratch, "logs"));
    const config = () => configOf(toml, [{ name: "coder-1", role: "coder", runtime: "command", command: "true" }]);

    // Per work phase: who started each story, latencies, submissions.
    let phase = { starts: new Map<string, Set<string>>(), latency: [] as number[], fullLatency: [] as number[], submitted: new Set<string>() };
    const full = new Set<SimAgent>();
    const events: SimEvents = {
      granted(agent, id, ms) {
        const set = phase.starts.get(id) ?? new Set<string>();
        set.add(agent.nodeId);
        phase.starts.set(id, set);
        if (ms !== undefined) (full.has(agent) ? phase.fullLatency : phase.latency).push(ms);
      },
      submitted(_agent, id) {
        phase.submitted.add(id);
      },
    };

    for (const n of [...p.agents].sort((a, b) => a - b)) {
      // Join in small batches: each join is a handshake and a sync round on the rendezvous.
      while (agents.length < n) {
        const batch: SimAgent[] = [];
        for (let k = 0; k < 10 && agents.length + batch.length < n; k++) {
          const i = agents.length + batch.length;
          const isFull = i < p.fullReplicaAgents;
          const a = new SimAgent({ url: server.ws, initial: isFull ? filler.snapshot : placeholder, config: config(), root: scratch, logs, label: `sim-${i}`, events });
          if (isFull) full.add(a);
          batch.push(a);
        }
        agents.push(...batch);
        await Promise.all(batch.map((a, k) => a.start(((agents.length - batch.length + k) / n) * p.scanIntervalSecs * 1000)));
      }
      // Everyone is visible to everyone (through the rendezvous), then the join burst settles.
      await waitFor(() => agents.every((a) => a.pipeline.listNodes().length >= n + 1), `${n} agents to see each other`, 120_000, 100);
      await sleep(1000);

      // Idle phase: heartbeats only.
      const beats0 = agents.reduce((s, a) => s + a.beats, 0);
      const idle0 = cpuMs(pid);
      const idleStart = performance.now();
      await sleep(p.idleSecs * 1000);
      const idleCpuMs = cpuMs(pid) - idle0;
      const idleMs = performance.now() - idleStart;
      const heartbeats = agents.reduce((s, a) => s + a.beats, 0) - beats0;

      // Work phase: stories into `current` at a steady rate; each is requested, granted, submitted.
      phase = { starts: new Map(), latency: [], fullLatency: [], submitted: new Set() };
      const work0 = cpuMs(pid);
      const workStart = performance.now();
      const ids: string[] = [];
      for (let s = 0; s < p.stories; s++) {
        const due = workStart + (s * 1000) / p.storiesPerSec;
        if (due > performance.now()) await sleep(due - performance.now());
        ids.push((await createStory(server.http, { name: `Scale ${n} ${s}`, stage: "current" })).id);
      }
      const done = await waitFor(() => ids.every((id) => phase.submitted.has(id)), `${p.stories} stories to reach qa (${n} agents, ${items} items)`, 120_000, 20).catch(() => false);
      const workMs = performance.now() - workStart;
      const workCpuMs = cpuMs(pid) - work0;
      const duplicates = [...phase.starts.values()].filter((s) => s.size > 1).length;
      const ungranted = ids.filter((id) => !phase.starts.has(id)).length;
      if (duplicates) failures.push(`${items} items, ${n} agents: ${duplicates} stories granted to two agents`);
      if (ungranted || !done) failures.push(`${items} items, ${n} agents: ${ungranted} stories never granted, ${ids.filter((id) => !phase.submitted.has(id)).length} never reached qa`);
      const grants = phase.starts.size;
      const idleRate = idleCpuMs / idleMs;
      points.push({
        items, agents: n, heartbeats,
        idleCpuMs: round(idleCpuMs, 1),
        cpuMsPerHeartbeat: round(idleCpuMs / Math.max(1, heartbeats), 3),
        grants, workMs: Math.round(workMs), workCpuMs: round(workCpuMs, 1),
        cpuMsPerGrant: round(workCpuMs / Math.max(1, grants)),
        netCpuMsPerGrant: round(Math.max(0, workCpuMs - idleRate * workMs) / Math.max(1, grants)),
        grantMs: percentiles(phase.latency),
        fullReplicaGrantMs: percentiles(phase.fullLatency),
        rendezvousRssMb: rssMb(pid),
      });
    }
    return { points, loadRssMb };
  } finally {
    for (const a of agents) a.stop();
    await cluster.stopAll();
    project.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Many simulated agents (real sync clients, real work loops, instant coders) against one real
 * rendezvous process, at several fleet sizes and document sizes. Measures what the rendezvous
 * pays per heartbeat and per grant (CPU from /proc), its memory, grant latency as the agents see
 * it, and how those costs grow: the log-log slope in items and in agents.
 */
export async function scale(p: ScaleParams): Promise<BenchResult> {
  const failures: string[] = [];
  const runs: Array<{ items: number; loadRssMb: number; points: Point[] }> = [];
  for (const items of p.items) runs.push({ items, ...(await runItems(p, items, failures)) });
  const all = runs.flatMap((r) => r.points);
  const at = (items: number, agents: number) => all.find((x) => x.items === items && x.agents === agents);
  const maxAgents = Math.max(...p.agents);
  const [fewItems, manyItems] = [Math.min(...p.items), Math.max(...p.items)];
  const growth = {
    /** Per fleet size: exponent of cost in items (1 = linear, 0 = flat). */
    inItems: p.agents.map((n) => ({
      agents: n,
      perGrant: logLogSlope(p.items.map((i) => [i, at(i, n)?.netCpuMsPerGrant ?? 0])),
      perHeartbeat: logLogSlope(p.items.map((i) => [i, at(i, n)?.cpuMsPerHeartbeat ?? 0])),
    })),
    /** Per document size: exponent of cost in agents. */
    inAgents: p.items.map((i) => ({
      items: i,
      perGrant: logLogSlope(p.agents.map((n) => [n, at(i, n)?.netCpuMsPerGrant ?? 0])),
      perHeartbeat: logLogSlope(p.agents.map((n) => [n, at(i, n)?.cpuMsPerHeartbeat ?? 0])),
    })),
  };
  const big = at(manyItems, maxAgents);
  const small = at(fewItems, maxAgents);
  const ratio = big && small ? round(big.netCpuMsPerGrant / Math.max(1e-6, small.netCpuMsPerGrant)) : null;
  return {
    bench: "scale",
    params: { ...p },
    results: {
      runs, growth,
      targets: {
        [`grantP99Under50msAt${maxAgents}AgentsAnd${manyItems}Items`]: !!big && big.grantMs.p99 <= 50,
        perGrantCpuRatioManyToFewItems: ratio,
        perGrantCpuWithin1_5x: ratio !== null && ratio <= 1.5,
      },
    },
    ok: failures.length === 0,
    failures,
  };
}
