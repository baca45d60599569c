import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProject } from "../cli/init.js";

const GIT_ENV = {
  GIT_AUTHOR_NAME: "huskies demo",
  GIT_AUTHOR_EMAIL: "demo@huskies.invalid",
  GIT_COMMITTER_NAME: "huskies demo",
  GIT_COMMITTER_EMAIL: "demo@huskies.invalid",
};

export function demoGit(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...GIT_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

const PROJECT_TOML = `# The demo project: server QA, quick heartbeats.
default_qa = "server"
max_coders = 1
scan_interval_secs = 2
node_alive_secs = 10

[gates]
commands = ["test -d stories"]
`;

const AGENTS_TOML = `[[agent]]
name = "coder-1"
role = "coder"
runtime = "claude-code"
model = "claude-sonnet-4-5"
max_turns = 8
allowed_tools = ["Bash", "Read", "Write", "Edit"]

[[agent]]
name = "mergemaster"
role = "mergemaster"
runtime = "claude-code"
max_turns = 8
allowed_tools = ["Bash", "Read", "Write", "Edit"]
`;

/**
 * A throwaway team project: a bare "origin", the server's checkout, and one checkout per agent
 * (as if on other machines). All of it lives under `dir`.
 */
export async function createDemoProject(dir: string, agents: number): Promise<{ origin: string; server: string; agents: string[] }> {
  const origin = join(dir, "origin.git");
  const server = join(dir, "server");
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", origin]);
  mkdirSync(server);
  demoGit(server, "init", "-q", "-b", "main");
  demoGit(server, "remote", "add", "origin", origin);
  writeFileSync(join(server, "README.md"), "# A demo project worked by huskies\n");
  await initProject(server, {});
  writeFileSync(join(server, ".huskies", "project.toml"), PROJECT_TOML);
  writeFileSync(join(server, ".huskies", "agents.toml"), AGENTS_TOML);
  demoGit(server, "add", "-A");
  demoGit(server, "commit", "-q", "-m", "Start the demo project");
  demoGit(server, "push", "-q", "-u", "origin", "main");
  // The server only merges; the agents code. A local, uncommitted setting of the server's checkout.
  const toml = join(server, ".huskies", "project.toml");
  writeFileSync(toml, readFileSync(toml, "utf8").replace("max_coders = 1", "max_coders = 0"));
  const agentDirs: string[] = [];
  for (let i = 1; i <= agents; i++) {
    const a = join(dir, `agent-${i}`);
    execFileSync("git", ["clone", "-q", origin, a], { stdio: "ignore" });
    agentDirs.push(a);
  }
  for (const d of [server, ...agentDirs]) {
    demoGit(d, "config", "user.name", GIT_ENV.GIT_AUTHOR_NAME);
    demoGit(d, "config", "user.email", GIT_ENV.GIT_AUTHOR_EMAIL);
  }
  return { origin, server, agents: agentDirs };
}
