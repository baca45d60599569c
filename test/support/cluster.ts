import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { GIT_ENV } from "./git-fixture.js";
import { waitFor } from "./wait-for.js";

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CLI, PACKAGE_ROOT } from "./paths.js";

/** Preload that shifts one process's wall clock (Cluster.spawn `clockOffsetMs`). */
const CLOCK_OFFSET_PRELOAD = pathToFileURL(join(PACKAGE_ROOT, "test", "support", "clock-offset.mjs")).href;

export { CLI };

export interface LogLine {
  msg?: string;
  level?: number;
  [k: string]: unknown;
}

/** A huskies process under test: its port, node id, parsed JSON log lines and exit. */
export class NodeProc {
  port = 0;
  nodeId = "";
  readonly logs: LogLine[] = [];
  readonly stdout: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `host`: the address the test reaches the process at (another network namespace's IP). */
  constructor(
    readonly proc: ChildProcess,
    readonly name: string,
    readonly adminToken?: string,
    readonly host = "127.0.0.1",
  ) {
    createInterface({ input: proc.stderr! }).on("line", (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ msg: line });
      }
    });
    createInterface({ input: proc.stdout! }).on("line", (line) => this.stdout.push(line));
    this.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  }

  get http(): string {
    return `http://${this.host}:${this.port}`;
  }

  get ws(): string {
    return `ws://${this.host}:${this.port}/crdt-sync`;
  }

  async ready(timeoutMs = 60_000, msg = "huskies node listening"): Promise<this> {
    const line = await Promise.race([
      // A process that never listens says why in its log: the failure carries the last lines.
      waitFor(() => this.logs.find((l) => l.msg === msg), `${this.name} to listen`, timeoutMs).catch((err: Error) => {
        throw new Error(
          `${err.message}; its last log lines:\n${this.logs
            .slice(-40)
            .map((l) => JSON.stringify(l))
            .join("\n")}`,
        );
      }),
      this.exited.then((e) => {
        throw new Error(
          `${this.name} exited (${e.code ?? e.signal}) before listening:\n${this.logs.map((l) => JSON.stringify(l)).join("\n")}`,
        );
      }),
    ]);
    this.port = Number(line.port);
    this.nodeId = String(line.nodeId ?? "");
    return this;
  }

  /** The full `/health` (with the admin token the process was started with, if any). */
  async health(): Promise<{
    nodeId: string;
    mesh: { peers: string[]; connected: string[]; max: number };
    rendezvous: { connected: boolean };
    running: string[];
    digest: string;
    items: number;
    /** Writes to the document that did not verify and were ignored (rendezvous, issue 27). */
    unverifiedWrites?: number;
  }> {
    const res = await fetch(`${this.http}/health`, { headers: this.adminToken ? { authorization: `Bearer ${this.adminToken}` } : {} });
    return (await res.json()) as never;
  }

  logged(msg: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  async stop(): Promise<void> {
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Starts huskies processes and stops every one of them at the end of a test. */
export class Cluster {
  readonly procs: NodeProc[] = [];

  /** `cli`: the huskies entry point to run (another build, e.g. an older release; see old-release.ts). */
  constructor(private readonly cli = CLI) {}

  /** `clockOffsetMs`: run this process on a wall clock that far off (see clock-offset.mjs). */
  spawn(
    name: string,
    args: string[],
    opts: { cwd?: string; env?: Record<string, string | undefined>; clockOffsetMs?: number } = {},
  ): NodeProc {
    const preload = opts.clockOffsetMs ? ["--import", CLOCK_OFFSET_PRELOAD] : [];
    const proc = spawn(process.execPath, [...preload, this.cli, ...args], {
      cwd: opts.cwd,
      env: {
        ...process.env,
        ...GIT_ENV,
        HUSKIES_LOG_FORMAT: "json",
        HUSKIES_LOG_LEVEL: "debug",
        ...(opts.clockOffsetMs ? { HUSKIES_TEST_CLOCK_OFFSET_MS: String(opts.clockOffsetMs) } : {}),
        ...opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = new NodeProc(proc, name, opts.env?.HUSKIES_ADMIN_TOKEN || undefined);
    this.procs.push(p);
    return p;
  }

  gateway(extra: string[] = [], env?: Record<string, string>): Promise<NodeProc> {
    return this.spawn("gateway", ["gateway", "--port", "0", ...extra], { env }).ready(30_000, "gateway listening");
  }

  server(root: string, extra: string[] = [], env?: Record<string, string>): Promise<NodeProc> {
    return this.spawn("server", ["serve", root, "--port", "0", ...extra], { env }).ready();
  }

  /** `env` values that are undefined are removed from the inherited environment. */
  agent(root: string, rendezvous: string, extra: string[] = [], env?: Record<string, string | undefined>): Promise<NodeProc> {
    return this.spawn(`agent-${this.procs.length}`, ["agent", root, "--rendezvous", rendezvous, "--port", "0", ...extra], { env }).ready();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    this.procs.length = 0;
  }
}

/** Run the CLI to completion. */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** POST a JSON body, with the admin token as bearer when given. */
export function postJson<T>(url: string, body: unknown, token?: string): Promise<T> {
  return getJson<T>(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}
