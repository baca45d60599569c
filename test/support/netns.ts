import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NodeProc } from "./cluster.js";
import { GIT_ENV } from "./git-fixture.js";
import { CLI } from "./paths.js";

/** One simulated machine: a network namespace with one interface on the lab's bridge. */
export interface LabHost {
  /** Short name given by the test (`a`, `b`, …). */
  name: string;
  /** The network namespace. */
  ns: string;
  /** Its address on the lab network. */
  ip: string;
  /** The root side of its veth pair: down = the host's cable is pulled. */
  link: string;
}

/** Why multi-host tests cannot run here, or undefined when they can (root, `ip`, network namespaces). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root (CI runs the suite as root)";
  const probe = `hzprobe${randomBytes(3).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (add.error) return `the ip command is missing (${add.error.message}; Debian: iproute2)`;
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  spawnSync("ip", ["netns", "del", probe]);
  return undefined;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A /24 under 10.0.0.0/8 that no interface here uses yet. */
function freeSubnet(): string {
  const used = execFileSync("ip", ["-4", "-o", "addr"], { encoding: "utf8" });
  for (;;) {
    const net = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]! % 250}`;
    if (!used.includes(` ${net}.`)) return net;
  }
}

/**
 * Hosts in Linux network namespaces, joined by veth pairs to one bridge in the root namespace
 * (which has the address .254, so the test itself can reach every host). Names are unique per
 * run; `teardown` removes every namespace, link and process, and also runs if the test process
 * exits without it. Processes started with `spawn` run inside their host's namespace with the
 * same file system (a bare git origin as a file path works across hosts).
 */
export class NetnsLab {
  readonly hosts = new Map<string, LabHost>();
  readonly id = randomBytes(2).toString("hex");
  readonly bridge = `hzbr${this.id}`;
  readonly subnet = freeSubnet();
  private readonly procs: NodeProc[] = [];
  private readonly onExit = () => this.removeLinks();

  constructor(names: string[]) {
    process.once("exit", this.onExit);
    try {
      ip("link", "add", this.bridge, "type", "bridge");
      ip("addr", "add", `${this.subnet}.254/24`, "dev", this.bridge);
      ip("link", "set", this.bridge, "up");
      names.forEach((name, i) => this.addHost(name, `${this.subnet}.${i + 1}`));
    } catch (err) {
      this.removeLinks();
      throw err;
    }
  }

  private addHost(name: string, addr: string): void {
    const host: LabHost = { name, ns: `hz-${this.id}-${name}`, ip: addr, link: `hz${this.id}${name}0` };
    const peer = `hz${this.id}${name}1`;
    this.hosts.set(name, host);
    ip("netns", "add", host.ns);
    ip("link", "add", host.link, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", host.ns);
    ip("link", "set", host.link, "master", this.bridge);
    ip("link", "set", host.link, "up");
    ip("-n", host.ns, "addr", "add", `${addr}/24`, "dev", peer);
    ip("-n", host.ns, "link", "set", peer, "up");
    ip("-n", host.ns, "link", "set", "lo", "up");
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /** Start `huskies ARGS` on a host (JSON logs on stderr, as the cluster kit parses them). */
  spawn(hostName: string, label: string, args: string[], env: Record<string, string> = {}): NodeProc {
    const h = this.host(hostName);
    const proc = spawn("ip", ["netns", "exec", h.ns, process.execPath, CLI, ...args], {
      env: { ...process.env, ...GIT_ENV, HUSKIES_LOG_FORMAT: "json", HUSKIES_LOG_LEVEL: "debug", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = new NodeProc(proc, `${label}@${hostName}`, env.HUSKIES_ADMIN_TOKEN || undefined, h.ip);
    this.procs.push(p);
    return p;
  }

  /** Run a program on a host to completion. */
  run(
    hostName: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const h = this.host(hostName);
    return new Promise((resolve) => {
      const p = spawn("ip", ["netns", "exec", h.ns, command, ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** `huskies ARGS` on a host, to completion. */
  cli(
    hostName: string,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return this.run(hostName, process.execPath, [CLI, ...args], env);
  }

  /** Pull a host's cable: it can reach nobody and nobody reaches it. */
  cut(hostName: string): void {
    ip("link", "set", this.host(hostName).link, "down");
  }

  heal(hostName: string): void {
    ip("link", "set", this.host(hostName).link, "up");
  }

  /** Write every process's log lines to `dir/<name>.jsonl` (for a failed run). */
  dumpLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const p of this.procs) writeFileSync(join(dir, `${p.name}.jsonl`), p.logs.map((l) => JSON.stringify(l)).join("\n") + "\n");
  }

  /** Stop every process (SIGTERM, then SIGKILL), then remove namespaces, links and the bridge. */
  async teardown(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    this.procs.length = 0;
    this.removeLinks();
    process.off("exit", this.onExit);
  }

  /** Synchronous, best effort (also from an exit handler): whatever exists of this lab goes. */
  private removeLinks(): void {
    for (const p of this.procs) p.kill("SIGKILL");
    for (const h of this.hosts.values()) {
      spawnSync("ip", ["link", "del", h.link]);
      spawnSync("ip", ["netns", "del", h.ns]);
    }
    spawnSync("ip", ["link", "del", this.bridge]);
  }
}
