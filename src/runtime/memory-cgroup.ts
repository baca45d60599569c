import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logger } from "../log.js";

/**
 * Each coding agent runs in its own memory cgroup when the machine allows it (rule 9), so that an
 * agent the kernel's OOM killer ended is told apart from one killed by a person: the cgroup's
 * `oom_kill` counter says so. cgroup v2 (`memory.events`) and v1 (`memory.oom_control`, the
 * memory hierarchy under /sys/fs/cgroup/memory) are both read. Creating cgroups needs root or a
 * delegated subtree; without either, runs go on as before and an OOM kill looks like any
 * `kill -9` (one info line says so). No limit is set: the cgroup only counts.
 */
export interface RunCgroup {
  readonly path: string;
  /** Move a process (and so its future children) into the cgroup; false when it could not be. */
  add(pid: number): boolean;
  /** Processes of the cgroup the OOM killer killed so far; undefined when unreadable. */
  oomKills(): number | undefined;
  /** Remove the (empty) cgroup; best effort, leftovers are swept at the next start. */
  remove(): void;
}

interface Hierarchy {
  /** Parent of every run cgroup of this machine's huskies processes. */
  parent: string;
  /** File holding the `oom_kill N` line. */
  counterFile: string;
}

const V2_ROOT = "/sys/fs/cgroup";
const V1_MEMORY = "/sys/fs/cgroup/memory";
const RUN_PREFIX = "run-";

let hierarchy: Hierarchy | null | undefined;
let counter = 0;

/** The `oom_kill N` value of a counter file's text. */
export function parseOomKills(text: string): number | undefined {
  const m = /^oom_kill\s+(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

function hasCounter(file: string): boolean {
  try {
    return parseOomKills(readFileSync(file, "utf8")) !== undefined;
  } catch {
    return false;
  }
}

/** cgroup v2 with the memory controller: a `huskies` child of the root with memory enabled below it. */
function v2(): Hierarchy | undefined {
  const controllers = join(V2_ROOT, "cgroup.controllers");
  if (!existsSync(controllers) || !readFileSync(controllers, "utf8").split(/\s+/).includes("memory")) return undefined;
  const parent = join(V2_ROOT, "huskies");
  const enabled = (dir: string) => readFileSync(join(dir, "cgroup.subtree_control"), "utf8").split(/\s+/).includes("memory");
  if (!enabled(V2_ROOT)) writeFileSync(join(V2_ROOT, "cgroup.subtree_control"), "+memory");
  mkdirSync(parent, { recursive: true });
  if (!enabled(parent)) writeFileSync(join(parent, "cgroup.subtree_control"), "+memory");
  return { parent, counterFile: "memory.events" };
}

/** cgroup v1: a `huskies` child of this process's own memory cgroup (it stays inside any limit set on us). */
function v1(): Hierarchy | undefined {
  if (!existsSync(join(V1_MEMORY, "memory.oom_control"))) return undefined;
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => l.split(":")[1]?.split(",").includes("memory"));
  const own = line ? line.split(":").slice(2).join(":") : "/";
  const parent = join(V1_MEMORY, own, "huskies");
  mkdirSync(parent, { recursive: true });
  return { parent, counterFile: "memory.oom_control" };
}

/** Run cgroups whose huskies process is gone (it was killed before removing them). */
function sweep(parent: string): void {
  for (const name of readdirSync(parent)) {
    const pid = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(join(parent, name));
    } catch {
      /* still has processes: leave it */
    }
  }
}

function detect(): Hierarchy | null {
  const why: string[] = [];
  for (const [name, probe] of [
    ["cgroup v2", v2],
    ["cgroup v1", v1],
  ] as const) {
    try {
      const h = probe();
      if (!h) continue;
      const test = join(h.parent, `${RUN_PREFIX}${process.pid}-probe`);
      mkdirSync(test, { recursive: true });
      const ok = hasCounter(join(test, h.counterFile));
      rmdirSync(test);
      if (ok) {
        sweep(h.parent);
        logger("runtime").debug({ parent: h.parent }, `agents run in their own memory cgroups (${name})`);
        return h;
      }
      why.push(`${name}: no oom_kill counter`);
    } catch (err) {
      why.push(`${name}: ${(err as Error).message}`);
    }
  }
  logger("runtime").info(
    { why: why.join("; ") || "no memory controller" },
    "memory cgroups unavailable: an agent killed for lack of memory looks like any kill -9 (a story failure)",
  );
  return null;
}

/** A fresh cgroup for one run, or undefined when the machine does not allow it. */
export function openRunCgroup(): RunCgroup | undefined {
  hierarchy ??= detect();
  const h = hierarchy;
  if (!h) return undefined;
  const path = join(h.parent, `${RUN_PREFIX}${process.pid}-${++counter}`);
  try {
    mkdirSync(path);
  } catch {
    return undefined;
  }
  return {
    path,
    add(pid) {
      try {
        appendFileSync(join(path, "cgroup.procs"), `${pid}\n`);
        return true;
      } catch {
        return false;
      }
    },
    oomKills() {
      try {
        return parseOomKills(readFileSync(join(path, h.counterFile), "utf8"));
      } catch {
        return undefined;
      }
    },
    remove() {
      try {
        rmdirSync(path);
      } catch {
        // Processes still leaving (EBUSY): one more try shortly, else the next start's sweep.
        setTimeout(() => {
          try {
            rmdirSync(path);
          } catch {
            /* swept later */
          }
        }, 2000).unref();
      }
    },
  };
}
