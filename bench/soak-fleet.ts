import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, type NodeProc } from "../test/support/cluster.js";
import { collectGarbage, inspectorUrl } from "./inspector-gc.js";
import { rssMb } from "./proc-stats.js";
import { round1 } from "./soak-report.js";

/** One long-lived role of the soak (the rendezvous, agent 1…N) and the processes that played it. */
export interface Role {
  name: string;
  root: string;
  proc: NodeProc | undefined;
  /** Every process that played the role, in order (their logs are read at the end). */
  lives: Array<{ proc: NodeProc; startedAt: number; stoppedAt?: number }>;
}

export interface ProcSample {
  /** Resident memory right after a full garbage collection: what the process keeps. */
  rssMb: number;
  /** Resident memory as read before that collection, wherever the collector was in its cycle. */
  rawRssMb: number;
  /** V8 heap in use and memory outside it (Buffers, native), from the node's `/metrics`. */
  heapMb: number;
  externalMb: number;
  fds: number;
  /** `replica.db` in KB (the snapshot and update log as checkpointed). */
  replicaKb: number;
  /** Its write-ahead log in KB (SQLite reuses it: bounded by its checkpoint size, not by the project). */
  walKb: number;
  /** Which life of the role this is (0 = the first process). */
  life: number;
}

/**
 * Each node opens an inspector on a free loopback port, so that the soak can make it collect its
 * garbage before a reading (inspector-gc.ts); the coders it runs do not inherit the option.
 */
const NODE_ENV = { HUSKIES_LOG_LEVEL: "info", NODE_OPTIONS: "--inspect=127.0.0.1:0" };
/** On a shared 2-core machine under load a node has taken over 30 s to start; a soak waits longer rather than fail on it. */
const READY_TIMEOUT_MS = 180_000;

/**
 * The soak's processes: a rendezvous and N agents, each a role that can be restarted (SIGTERM,
 * wait for the exit, start again on the same checkout; the rendezvous on the same port, so agents
 * find it where they left it).
 */
export class SoakFleet {
  readonly cluster = new Cluster();
  readonly rendezvous: Role;
  readonly agents: Role[];
  private port = 0;

  constructor(serverRoot: string, agentRoots: string[]) {
    this.rendezvous = { name: "rendezvous", root: serverRoot, proc: undefined, lives: [] };
    this.agents = agentRoots.map((root, i) => ({ name: `agent${i + 1}`, root, proc: undefined, lives: [] }));
  }

  get roles(): Role[] {
    return [this.rendezvous, ...this.agents];
  }

  get ws(): string {
    return `ws://127.0.0.1:${this.port}/crdt-sync`;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await this.startRole(this.rendezvous);
    for (const a of this.agents) await this.startRole(a);
  }

  async restart(role: Role): Promise<void> {
    const proc = role.proc;
    role.proc = undefined;
    if (proc) {
      await proc.stop();
      role.lives.at(-1)!.stoppedAt = Date.now();
    }
    await this.startRole(role);
  }

  private async startRole(role: Role): Promise<void> {
    const args =
      role === this.rendezvous
        ? ["serve", role.root, "--port", String(this.port)]
        : ["agent", role.root, "--rendezvous", this.ws, "--port", "0"];
    const proc = this.cluster.spawn(role.name, args, { env: NODE_ENV });
    try {
      await proc.ready(READY_TIMEOUT_MS);
    } catch (err) {
      const tail = proc.logs.slice(-5).map((l) => JSON.stringify(l).slice(0, 300));
      throw new Error(`${role.name} did not start: ${(err as Error).message.split("\n")[0]}; its last log lines: ${tail.join(" | ")}`, {
        cause: err,
      });
    }
    if (role === this.rendezvous) this.port = proc.port;
    role.proc = proc;
    role.lives.push({ proc, startedAt: Date.now() });
  }

  /**
   * RSS as it is and right after a full garbage collection, heap, open descriptors and replica
   * size of the process playing `role` now (undefined while it restarts).
   */
  async sample(role: Role): Promise<ProcSample | undefined> {
    const proc = role.proc;
    const pid = proc?.proc.pid;
    if (!proc || !pid || proc.proc.exitCode !== null) return undefined;
    try {
      const rawRssMb = rssMb(pid);
      const inspector = inspectorUrl(proc.logs);
      if (inspector) await collectGarbage(inspector);
      const metrics = await (await fetch(`${proc.http}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      const mb = (name: string) => round1(Number(new RegExp(`^${name} (\\S+)`, "m").exec(metrics)?.[1] ?? NaN) / (1024 * 1024));
      return {
        rssMb: rssMb(pid),
        rawRssMb,
        heapMb: mb("nodejs_heap_size_used_bytes"),
        externalMb: mb("nodejs_external_memory_bytes"),
        fds: await openDescriptors(pid),
        replicaKb: fileKb(join(role.root, ".huskies", "replica.db")),
        walKb: fileKb(join(role.root, ".huskies", "replica.db-wal")),
        life: role.lives.length - 1,
      };
    } catch {
      return undefined;
    }
  }

  stop(): Promise<void> {
    return this.cluster.stopAll();
  }
}

/**
 * Descriptors open in `pid`: the least of a few readings 100 ms apart. A node holds pipes to the
 * git and coder processes it runs for a moment; a leak raises the floor, which is what is read.
 */
async function openDescriptors(pid: number): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(100);
    least = Math.min(least, readdirSync(`/proc/${pid}/fd`).length);
  }
  return least;
}

function fileKb(file: string): number {
  return Math.round((statSync(file, { throwIfNoEntry: false })?.size ?? 0) / 1024);
}
