import { existsSync, lstatSync, readlinkSync, statSync } from "node:fs";
import { type Bridge, type RunPolicy, SANDBOX_PROXY_PORT, SANDBOX_RUN_DIR } from "./policy.js";

/** Where the private `$HOME` is mounted inside a sandbox. */
export const SANDBOX_HOME = "/home/huskies";

/**
 * The bubblewrap command line that applies `policy` to `command args`. Nothing of the host is
 * visible but what the policy names (no `/` bind): the toolchain and extra reads read-only, the
 * story's checkout and git view writable, a private `$HOME` and `/tmp`, its own PID, network,
 * IPC and UTS namespaces (no other process's `/proc/<pid>/environ`), every capability dropped
 * (huskies may run as root, and root keeps them in bwrap unless told), and the network reachable
 * only through the node's egress proxy and model bridges, each a unix socket mounted in and
 * served on the sandbox's own loopback by socat.
 */
export function bwrapArgs(policy: RunPolicy, command: string, args: readonly string[], socat = "socat"): string[] {
  const a = [
    "--die-with-parent",
    "--new-session",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--cap-drop",
    "ALL",
  ];
  // Top-level toolchain directories first; deeper paths (which may lie under /tmp) after the
  // private /tmp is mounted, writable ones last so a checkout under a read-only parent is writable.
  const topLevel = (p: string) => /^\/[^/]+$/.test(p);
  for (const p of policy.readOnly.filter(topLevel)) a.push(...readOnlyMount(p));
  a.push("--proc", "/proc", "--dev", "/dev");
  a.push(...(policy.tmp ? ["--bind", policy.tmp, "/tmp"] : ["--tmpfs", "/tmp"]));
  a.push(...(policy.home ? ["--bind", policy.home, SANDBOX_HOME] : ["--tmpfs", SANDBOX_HOME]));
  for (const p of policy.masked) a.push(...maskOf(p));
  for (const p of policy.readOnly.filter((p) => !topLevel(p))) a.push(...readOnlyMount(p));
  for (const p of policy.writable) a.push("--bind-try", p, p);
  for (const p of policy.pinned) if (existsSync(p)) a.push("--ro-bind", p, p);
  const sockets: Array<{ port: number; path: string }> = [];
  if (policy.network.egressSocket) {
    a.push("--ro-bind", policy.network.egressSocket, `${SANDBOX_RUN_DIR}/egress.sock`);
    sockets.push({ port: SANDBOX_PROXY_PORT, path: `${SANDBOX_RUN_DIR}/egress.sock` });
  }
  for (const b of policy.network.bridges) {
    a.push("--ro-bind", b.socket, bridgePath(b));
    sockets.push({ port: b.port, path: bridgePath(b) });
  }
  if (policy.channel) a.push("--bind", policy.channel.hostPath, policy.channel.sandboxPath);
  a.push("--chdir", policy.cwd, "--");
  if (!sockets.length) return [...a, command, ...args];
  return [...a, "/bin/sh", "-c", bootstrap(sockets, socat), "huskies-sandbox", command, ...args];
}

const masks = new Map<string, string[]>();

/** How to hide a path: an empty tmpfs over a directory, /dev/null over a file (looked up once). */
function maskOf(p: string): string[] {
  let m = masks.get(p);
  if (!m) {
    m = !existsSync(p) ? [] : statSync(p).isDirectory() ? ["--tmpfs", p] : ["--ro-bind", "/dev/null", p];
    masks.set(p, m);
  }
  return m;
}

const symlinks = new Map<string, string | null>();

function bridgePath(b: Bridge): string {
  return `${SANDBOX_RUN_DIR}/bridge-${b.port}.sock`;
}

/**
 * A read-only mount of `p` as it is on the host: a symlink (merged /usr: `/bin -> usr/bin`) stays
 * one. Top-level toolchain entries are looked up once; deeper paths every time (they are the run's).
 */
function readOnlyMount(p: string): string[] {
  const top = /^\/[^/]+$/.test(p);
  let link = top ? symlinks.get(p) : undefined;
  if (link === undefined) {
    try {
      link = lstatSync(p).isSymbolicLink() ? readlinkSync(p) : null;
    } catch {
      return ["--ro-bind-try", p, p];
    }
    if (top) symlinks.set(p, link);
  }
  return link !== null ? ["--symlink", link, p] : ["--ro-bind", p, p];
}

/**
 * Inside the sandbox: a socat per socket listening on 127.0.0.1:<port>, then the command itself.
 * The command is not held back until the listeners are up (as Claude Code's own sandbox does
 * not): a wait loop on two busy cores cost more than socat's few milliseconds of start-up, and
 * tools reach the network tens of milliseconds after they start. The environment already names
 * the proxy (`HTTP_PROXY` …), so tools reach registries through huskies' egress rules.
 */
function bootstrap(sockets: ReadonlyArray<{ port: number; path: string }>, socat: string): string {
  const lines = sockets.map(
    (s) => `${q(socat)} TCP-LISTEN:${s.port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${s.path} </dev/null >/dev/null 2>&1 &`,
  );
  lines.push('exec "$@"');
  return lines.join("\n");
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
