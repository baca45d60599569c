/**
 * Trouble on the node is the node's (docs/architecture.md, "Faults: rules that hold everywhere").
 * Pure: an error value in, a classification out; the job does the I/O (release, pause, block).
 */

/** What on this machine stopped a step. */
export type NodeTroubleKind =
  "disk_full" | "disk_error" | "out_of_memory" | "missing_path" | "origin_unreachable" | "store" | "resources" | "timeout";

export interface NodeTrouble {
  kind: NodeTroubleKind;
  /** One line a person can act on: what is wrong on this machine. */
  reason: string;
  /**
   * A story can cause this wherever it runs (it fills the disk, exhausts memory, deletes its own
   * folder). Only these count toward `node_trouble_everywhere`: an unreachable origin or a locked
   * store says nothing about the story, and blocking every story in flight during an outage would
   * be worse than waiting for it to end.
   */
  storyMayCause: boolean;
}

/** Git commands that talk to origin: only their failures can mean "origin unreachable". */
const NETWORK_GIT = new Set(["fetch", "push", "pull", "ls-remote", "clone"]);

const DISK_FULL = /no space left on device|disk quota exceeded|database or disk is full|\bENOSPC\b|\bEDQUOT\b/i;
const DISK_ERROR = /read-only file system|input\/output error|\bEROFS\b|\bEIO\b/i;
const OUT_OF_MEMORY = /cannot allocate memory|out of memory|\bENOMEM\b|JavaScript heap out of memory/i;
const MISSING_PATH = /cannot change to '.*': no such file|not a git repository|is a missing but already registered worktree|\bENOENT\b/i;
const STORE = /\bSQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL)\b|database is locked/i;
const RESOURCES = /too many open files|\bEMFILE\b|\bENFILE\b|resource temporarily unavailable|\bEAGAIN\b/i;
const TIMED_OUT = /timed out after \d+ ?m?s\b/i;
/**
 * How git says it could not reach the remote (local paths, ssh, http, git://). A refusal by a
 * reachable remote (`[remote rejected]`, `[rejected]`) is deliberately absent: that is an answer.
 */
const UNREACHABLE = new RegExp(
  [
    "could not read from remote repository",
    "does not appear to be a git repository",
    "could not resolve host",
    "unable to access",
    "failed to connect",
    "couldn't connect to server",
    "connection (refused|timed out|reset)",
    "network is unreachable",
    "no route to host",
    "operation timed out",
    "the remote end hung up unexpectedly",
    "ssh: connect to host",
    "host key verification failed",
    "permission denied \\(publickey",
    "authentication failed",
    "repository '.*' not found",
  ].join("|"),
  "i",
);

interface Facts {
  code: string;
  text: string;
  gitCommand: string | undefined;
}

function factsOf(err: unknown): Facts {
  if (typeof err === "string") return { code: "", text: err, gitCommand: undefined };
  if (typeof err !== "object" || err === null) return { code: "", text: String(err), gitCommand: undefined };
  const e = err as { code?: unknown; message?: unknown; stderr?: unknown; args?: unknown };
  const args = Array.isArray(e.args) ? e.args.filter((a): a is string => typeof a === "string") : [];
  const text = [e.message, e.stderr].filter((x): x is string => typeof x === "string").join("\n");
  return { code: typeof e.code === "string" ? e.code : "", text, gitCommand: args[0] };
}

/** The first line of `text` that matches `re`, trimmed and bounded (for the reason). */
function lineOf(text: string, re: RegExp): string {
  const line = text.split("\n").find((l) => re.test(l)) ?? text.split("\n")[0] ?? "";
  return line.trim().slice(0, 300);
}

/**
 * Whether `err` failed because of this machine rather than the story: a full or broken disk,
 * memory, a missing folder, origin out of reach (only for git's network commands), the store,
 * process limits, or a git command that had to be killed. Undefined when it is none of these
 * (the step's own failure, or a bug).
 */
export function isNodeTrouble(err: unknown): NodeTrouble | undefined {
  const { code, text, gitCommand } = factsOf(err);
  const is = (codes: string[], re: RegExp) => codes.includes(code) || re.test(text);
  if (is(["ENOSPC", "EDQUOT", "SQLITE_FULL"], DISK_FULL))
    return { kind: "disk_full", reason: `disk full: ${lineOf(text, DISK_FULL)}`, storyMayCause: true };
  if (is(["EROFS", "EIO"], DISK_ERROR))
    return { kind: "disk_error", reason: `disk error: ${lineOf(text, DISK_ERROR)}`, storyMayCause: false };
  if (is(["ENOMEM"], OUT_OF_MEMORY))
    return { kind: "out_of_memory", reason: `out of memory: ${lineOf(text, OUT_OF_MEMORY)}`, storyMayCause: true };
  if (gitCommand && NETWORK_GIT.has(gitCommand) && (UNREACHABLE.test(text) || TIMED_OUT.test(text))) {
    const re = UNREACHABLE.test(text) ? UNREACHABLE : TIMED_OUT;
    return { kind: "origin_unreachable", reason: `origin unreachable (git ${gitCommand}): ${lineOf(text, re)}`, storyMayCause: false };
  }
  if (gitCommand && TIMED_OUT.test(text))
    return { kind: "timeout", reason: `git ${gitCommand} hung: ${lineOf(text, TIMED_OUT)}`, storyMayCause: false };
  if (is(["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN"], STORE))
    return { kind: "store", reason: `replica store failing: ${lineOf(text, STORE)}`, storyMayCause: false };
  if (is(["EMFILE", "ENFILE", "EAGAIN"], RESOURCES))
    return { kind: "resources", reason: `out of process resources: ${lineOf(text, RESOURCES)}`, storyMayCause: false };
  if (is(["ENOENT"], MISSING_PATH))
    return { kind: "missing_path", reason: `missing file or folder: ${lineOf(text, MISSING_PATH)}`, storyMayCause: false };
  return undefined;
}

/** A story's own folder vanished under it (deleted mid-run): the machine's state, possibly the story's doing. */
export function missingWorktree(path: string): NodeTrouble {
  return { kind: "missing_path", reason: `the worktree ${path} disappeared while the step ran`, storyMayCause: true };
}

/** Trouble on this many different nodes blocks the story (rule 2's breaker). */
export const NODE_TROUBLE_EVERYWHERE_NODES = 2;

/**
 * After node trouble on `node`: the updated list of nodes the story troubled and whether it now
 * troubles "everywhere" (at least `threshold` different nodes) and must be blocked so it cannot
 * pause the whole fleet for ever. Trouble the story cannot cause leaves the list as it is.
 */
export function troubleVerdict(
  troubledNodes: readonly string[],
  node: string,
  trouble: Pick<NodeTrouble, "storyMayCause">,
  threshold = NODE_TROUBLE_EVERYWHERE_NODES,
): { troubledNodes: string[]; everywhere: boolean } {
  if (!trouble.storyMayCause) return { troubledNodes: [...troubledNodes], everywhere: false };
  const nodes = troubledNodes.includes(node) ? [...troubledNodes] : [...troubledNodes, node];
  return { troubledNodes: nodes, everywhere: nodes.length >= threshold };
}
