import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { commandSlots, projectToml } from "../../test/support/coders.js";
import { SmallDisk } from "../../test/support/fault-kit.js";
import { DocClient } from "../../test/support/doc-client.js";
import { createProject, git, GIT_ENV, type Project } from "../../test/support/git-fixture.js";
import { CLI, PACKAGE_ROOT } from "../../test/support/paths.js";
import { trailerStories } from "../../src/pipeline/story-trailer.js";
import type { JobSpan } from "./invariants.js";
import { NodeProcess, type Received } from "./node-process.js";
import { DISK_AGENT, NODES, type NodeName } from "./schedule.js";

/** The preload that lets the run move one node's wall clock (source file: tsc does not copy .mjs). */
const CLOCK_SHIFT = pathToFileURL(join(PACKAGE_ROOT, "bench", "chaos", "clock-shift.mjs")).href;

/** Timings short enough that a held fault makes claims lapse within the run (defaults are minutes). */
/**
 * The coder adds a new line each run, so a retaken worktree (its earlier commit kept when the push
 * failed) still has something to commit, as a real coder continuing its work would.
 */
const CODER = 'date +%s%N >> "story-$HUSKIES_STORY_ID.txt" && git add -A && git commit -qm "work on $HUSKIES_STORY_ID"';

const PROJECT = projectToml({ default_qa: "server", node_alive_secs: 5, claim_timeout_secs: 10, max_retries: 3, max_coders: 1 });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * The chaos run's cluster: a bare origin, a rendezvous on a fixed port (so a restarted one is
 * found where it was) and three agents with a `command` coder and a mergemaster each, every
 * process started with the clock preload. Keeps every process instance it started, for the
 * invariants: job spans from their logs, and exits the schedule did not cause.
 */
export class ChaosCluster {
  readonly procs = new Map<NodeName, NodeProcess>();
  readonly history: NodeProcess[] = [];
  readonly disk: SmallDisk | undefined;
  readonly diskUnavailable: string | undefined;
  private readonly roots = new Map<NodeName, string>();
  private readonly jobs: JobSpan[] = [];
  private readonly open = new Map<string, JobSpan>();
  private incarnation = 0;
  private originAway = false;

  private constructor(
    readonly project: Project,
    readonly port: number,
    readonly epoch: number,
    private readonly env: Record<string, string>,
  ) {
    this.roots.set("rendezvous", project.root);
    for (const n of NODES) if (n !== "rendezvous") this.roots.set(n, project.clone(n));
    if (SmallDisk.available()) this.disk = new SmallDisk(join(this.roots.get(DISK_AGENT)!, ".huskies"), 48).mount();
    else this.diskUnavailable = "a small tmpfs needs root and mount";
  }

  static async start(env: Record<string, string> = {}): Promise<ChaosCluster> {
    const project = createProject({
      projectToml: PROJECT,
      agentsToml: `${commandSlots(1, CODER)}\n${commandSlots(1, "true", "mergemaster", "merger")}`,
    });
    const c = new ChaosCluster(project, await freePort(), performance.now(), env);
    try {
      for (const n of NODES) await c.startNode(n);
    } catch (err) {
      // A node that never came up must not leave the ones that did running (they outlived a run once).
      await c.stop();
      throw err;
    }
    return c;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  clockFile(node: NodeName): string {
    return join(this.project.dir, `clock-${node}`);
  }

  /** Start (or start again) one node and wait until it listens. */
  async startNode(node: NodeName): Promise<NodeProcess> {
    const args =
      node === "rendezvous"
        ? ["serve", this.project.root, "--port", String(this.port), "--no-agent"]
        : ["agent", this.roots.get(node)!, "--rendezvous", `ws://127.0.0.1:${this.port}/crdt-sync`, "--port", "0"];
    const proc = spawn(process.execPath, ["--import", CLOCK_SHIFT, CLI, ...args], {
      env: {
        ...process.env,
        ...GIT_ENV,
        HUSKIES_LOG_FORMAT: "json",
        HUSKIES_LOG_LEVEL: "info",
        HUSKIES_CHAOS_CLOCK_FILE: this.clockFile(node),
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const holder = `${node}#${++this.incarnation}`;
    const p = new NodeProcess(node, proc, join(this.project.dir, `${node}.log`), this.epoch, (r) => this.onEvent(holder, r));
    void p.exited.then(() => this.closeJobsOf(holder, p.exitedWith!.at));
    this.procs.set(node, p);
    this.history.push(p);
    return p.ready(60_000);
  }

  private onEvent(holder: string, r: Received): void {
    const story = String(r.line.story ?? "");
    const role = String(r.line.role ?? "");
    const key = `${holder}/${story}/${role}`;
    if (r.line.msg === "job started") {
      const span: JobSpan = { story, role, holder, node: r.node, start: r.at, end: undefined };
      this.jobs.push(span);
      this.open.set(key, span);
    } else if (r.line.msg === "job finished") {
      const span = this.open.get(key);
      if (span) span.end = r.at;
      this.open.delete(key);
    }
  }

  private closeJobsOf(holder: string, at: number): void {
    for (const [key, span] of this.open)
      if (span.holder === holder) {
        span.end = at;
        this.open.delete(key);
      }
  }

  jobSpans(): readonly JobSpan[] {
    return this.jobs;
  }

  unexpectedExits(): { node: string; code: number | null; signal: string | null }[] {
    return this.history
      .filter((p) => !p.expected && p.exitedWith)
      .map((p) => ({ node: p.node, code: p.exitedWith!.code, signal: p.exitedWith!.signal, tail: p.tail.slice(-20) }));
  }

  /** Origin moved away (`origin-down`) or back. */
  setOriginAway(away: boolean): void {
    if (away === this.originAway) return;
    const hidden = `${this.project.origin}.away`;
    renameSync(away ? this.project.origin : hidden, away ? hidden : this.project.origin);
    this.originAway = away;
  }

  /** Origin refuses every push (`origin-refuse`) or takes them again. */
  setOriginRefusing(refuse: boolean): void {
    const hook = join(this.project.origin, "hooks", "pre-receive");
    if (!refuse) return rmSync(hook, { force: true });
    writeFileSync(hook, "#!/bin/sh\necho 'chaos: pushes refused' >&2\nexit 1\n");
    chmodSync(hook, 0o755);
  }

  setClock(node: NodeName, offsetMs: number): void {
    writeFileSync(this.clockFile(node), String(offsetMs));
  }

  /** Delete the node's replica (`replica.db` and its WAL) while it is down (`empty-replica`). */
  deleteReplica(node: NodeName): void {
    const db = join(this.roots.get(node)!, ".huskies", "replica.db");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  }

  /** A replica linked to the rendezvous writes `meta.lastNumber` (`poison-counter`); resolves once the rendezvous has it. */
  async poisonCounter(value: number): Promise<void> {
    const client = new DocClient();
    try {
      await client.link(`ws://127.0.0.1:${this.port}/crdt-sync`);
      client.pipeline.meta.set("lastNumber", value);
      // Sent on the open link; a short wait lets the frame leave before the link closes.
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      client.close();
    }
  }

  /** Story ids of every `Huskies-Story` trailer on origin's main, one per commit. */
  mergedTrailers(): string[] {
    if (!existsSync(this.project.origin)) return [];
    const log = git(this.project.origin, "log", "main", "--format=%B%x00");
    return log.split("\0").flatMap((m) => trailerStories(m));
  }

  /** `keepLogsIn`: copy every node's log there first (a failing run's evidence). */
  async stop(keepLogsIn?: string): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => p.stop()));
    try {
      this.setOriginAway(false);
    } catch {
      // Cleaning up anyway.
    }
    this.disk?.unmount();
    if (keepLogsIn) {
      mkdirSync(keepLogsIn, { recursive: true });
      for (const n of NODES)
        if (existsSync(join(this.project.dir, `${n}.log`))) copyFileSync(join(this.project.dir, `${n}.log`), join(keepLogsIn, `${n}.log`));
    }
    this.project.cleanup();
  }
}
