import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { isGitRepo } from "../git/git.js";
import * as D from "../config/defaults.js";

const PROJECT_TOML = (port: number) => `# huskies project configuration. Every key is optional; the values below are the defaults.
port = ${port}
# base_branch = "main"          # detected from origin's HEAD or the checked-out branch
default_qa = "server"           # server | agent | human
max_coders = ${D.MAX_CODERS}
max_retries = ${D.MAX_RETRIES}
scan_interval_secs = ${D.SCAN_INTERVAL_SECS}
node_alive_secs = ${D.NODE_ALIVE_SECS}
claim_timeout_secs = ${D.CLAIM_TIMEOUT_SECS}
autonomous_after_secs = ${D.AUTONOMOUS_AFTER_SECS}
max_mesh_peers = ${D.MAX_MESH_PEERS}
mesh_scan_interval_secs = ${D.MESH_SCAN_INTERVAL_SECS}
archive_after_secs = ${D.ARCHIVE_AFTER_SECS}
inactivity_timeout_secs = ${D.INACTIVITY_TIMEOUT_SECS}
auto_promote = true
trusted_keys = []

[gates]
commands = []                   # e.g. ["npm test"]
`;

const AGENTS_TOML = `# One [[agent]] entry per slot. Roles: coder (works current), qa (works qa), mergemaster (works merge).
# Runtimes: claude-code (the claude CLI) or command (any CLI agent: command + args templates).

[[agent]]
name = "coder-1"
role = "coder"
runtime = "claude-code"
model = "claude-sonnet-4-5"
max_turns = 50
allowed_tools = ["Bash", "Read", "Write", "Edit", "Glob", "Grep"]

[[agent]]
name = "coder-2"
role = "coder"
runtime = "claude-code"

[[agent]]
name = "coder-3"
role = "coder"
runtime = "claude-code"

[[agent]]
name = "qa"
role = "qa"
runtime = "claude-code"

[[agent]]
name = "mergemaster"
role = "mergemaster"
runtime = "claude-code"
`;

const GITIGNORE = `# Per-node runtime state; never committed.
replica.db*
node.key
node.lock
worktrees/
merge_workspace/
logs/
runs/
running.json
channels/
chat.jsonl
chat.prompt.md
`;

/** `huskies init [DIR]`: write the project files, never overwriting one that exists. */
export async function initProject(dirArg: string | undefined, opts: { port?: number }): Promise<string[]> {
  const dir = resolve(dirArg ?? ".");
  if (!existsSync(dir)) throw new UserError(`no such directory: ${dir}`);
  if (!(await isGitRepo(dir))) throw new UserError(`not a git repository: ${dir} (run \`git init\` first)`);
  const port = opts.port ?? D.PORT;
  mkdirSync(join(dir, ".huskies"), { recursive: true });
  const files: Record<string, string> = {
    ".huskies/project.toml": PROJECT_TOML(port),
    ".huskies/agents.toml": AGENTS_TOML,
    ".huskies/.gitignore": GITIGNORE,
    ".mcp.json": JSON.stringify({ mcpServers: { huskies: { type: "http", url: `http://127.0.0.1:${port}/mcp` } } }, null, 2) + "\n",
  };
  const written: string[] = [];
  for (const [rel, content] of Object.entries(files)) {
    const file = join(dir, rel);
    if (existsSync(file)) continue;
    writeFileSync(file, content);
    written.push(rel);
  }
  return written;
}
