import * as D from "../src/config/defaults.js";
import { Cluster, getJson, type NodeProc } from "../test/support/cluster.js";
import { createProject, type Project } from "../test/support/git-fixture.js";
import { commandSlots, projectToml } from "../test/support/coders.js";
import { waitFor } from "../test/support/wait-for.js";

/**
 * The product's timing defaults, which the test kit's `projectToml` shortens for tests: benchmarks
 * measure a project as configured out of the box.
 */
export const DEFAULT_TIMINGS = {
  scan_interval_secs: D.SCAN_INTERVAL_SECS,
  node_alive_secs: D.NODE_ALIVE_SECS,
  mesh_scan_interval_secs: D.MESH_SCAN_INTERVAL_SECS,
} as const;

/** A project, a rendezvous and N agents as real processes, with agents' logs for timing. */
export async function startBenchCluster(opts: {
  agents: number;
  slots?: number;
  toml?: Record<string, string | number | boolean>;
  script?: string;
  agentsToml?: string;
}): Promise<{ cluster: Cluster; project: Project; server: NodeProc; agents: NodeProc[]; stop(): Promise<void> }> {
  const project = createProject({
    projectToml: projectToml({
      default_qa: "human",
      ...DEFAULT_TIMINGS,
      ...opts.toml,
    }),
    agentsToml: opts.agentsToml ?? commandSlots(opts.slots ?? 1, opts.script),
  });
  const cluster = new Cluster();
  const env = { HUSKIES_LOG_LEVEL: "info" };
  const server = await cluster.server(project.root, ["--no-agent"], env);
  const roots = Array.from({ length: opts.agents }, (_, i) => project.clone(`agent${i + 1}`));
  const agents: NodeProc[] = [];
  // Start in small batches: a 2-core machine starting 16 node processes at once is all startup.
  for (let i = 0; i < roots.length; i += 4)
    agents.push(...(await Promise.all(roots.slice(i, i + 4).map((r) => cluster.agent(r, server.ws, [], env)))));
  await waitFor(
    async () => (await getJson<{ nodes: unknown[] }>(`${server.http}/api/pipeline`)).nodes.length === opts.agents + 1,
    "every agent's heartbeat",
    60_000,
  );
  return {
    cluster,
    project,
    server,
    agents,
    async stop() {
      await cluster.stopAll();
      project.cleanup();
    },
  };
}

/** Per story: the distinct nodes that invoked a coder for it. */
export function invocationsByStory(agents: NodeProc[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const a of agents) {
    for (const l of a.logged("agent invocation")) {
      const set = out.get(String(l.story)) ?? new Set<string>();
      set.add(String(l.node));
      out.set(String(l.story), set);
    }
  }
  return out;
}
