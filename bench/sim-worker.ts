import { parentPort, workerData } from "node:worker_threads";
import { StoryLogs } from "../src/runtime/story-log.js";
import { configOf } from "../test/support/in-process.js";
import { SimAgent, type SimEvents } from "./sim-agent.js";

/** What a fleet thread is given once. */
export interface SimWorkerData {
  url: string;
  toml: Record<string, string | number | boolean>;
  scratch: string;
  placeholder: Uint8Array;
  snapshot: Uint8Array;
}

/** Commands from the benchmark's main thread. */
export type SimCommand =
  { t: "add"; agents: Array<{ index: number; full: boolean; beatOffsetMs: number }> } | { t: "status"; seq: number } | { t: "stop" };

/** Reports to the main thread. */
export type SimReport =
  | { t: "added" }
  | { t: "granted"; node: string; id: string; ms: number | undefined; full: boolean; seenAt: number }
  | { t: "submitted"; id: string }
  | { t: "status"; seq: number; beats: number; minNodesSeen: number; docClients: number }
  | { t: "stopped" };

/**
 * A thread of simulated agents. Every agent applies every update of the fleet, so the fleet's
 * cost in the benchmark process grows with the square of its size; spreading it over threads lets
 * it use what the machine has, and keeps one agent's wait for its grant from queueing behind the
 * whole fleet's processing on one thread.
 */
const data = workerData as SimWorkerData;
const port = parentPort!;
const send = (r: SimReport) => port.postMessage(r);
const logs = new StoryLogs(`${data.scratch}/logs`);
const agents: SimAgent[] = [];
const full = new Set<SimAgent>();
const events: SimEvents = {
  granted: (agent, id, ms, seenAt) => send({ t: "granted", node: agent.nodeId, id, ms, full: full.has(agent), seenAt }),
  submitted: (_agent, id) => send({ t: "submitted", id }),
};

port.on("message", (cmd: SimCommand) => {
  if (cmd.t === "add") {
    const batch = cmd.agents.map((a) => {
      const agent = new SimAgent({
        url: data.url,
        initial: a.full ? data.snapshot : data.placeholder,
        root: data.scratch,
        logs,
        label: `sim-${a.index}`,
        events,
        config: configOf(data.toml, [{ name: "coder-1", role: "coder", runtime: "command", command: "true" }]),
      });
      if (a.full) full.add(agent);
      agents.push(agent);
      return agent.start(a.beatOffsetMs);
    });
    Promise.all(batch).then(
      () => send({ t: "added" }),
      (err: Error) => {
        throw err;
      },
    );
  } else if (cmd.t === "status") {
    const beats = agents.reduce((s, a) => s + a.beats, 0);
    const minNodesSeen = agents.reduce((m, a) => Math.min(m, a.pipeline.listNodes().length), Infinity);
    // Writers a replica has seen: every Yjs transaction costs O(this) (state vectors).
    const docClients = agents.reduce((m, a) => Math.max(m, a.pipeline.doc.store.clients.size), 0);
    send({ t: "status", seq: cmd.seq, beats, minNodesSeen: agents.length ? minNodesSeen : 0, docClients });
  } else {
    for (const a of agents) a.stop();
    send({ t: "stopped" });
  }
});
