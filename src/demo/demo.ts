import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import { STAGES } from "../pipeline/stages.js";
import type { PipelineView } from "../server/operator-actions.js";
import type { Item } from "../state/item.js";
import { createDemoProject, demoGit } from "./demo-project.js";
import { demoModel } from "./demo-model.js";
import { ScriptedModelServer } from "./scripted-model-server.js";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const DEMO_TIMEOUT_MS = 5 * 60_000;

const STORIES = [
  {
    name: "Add a greeting page",
    body: "As a visitor I want a friendly greeting.",
    criteria: ["The page says hello", "It names the project"],
  },
  { name: "Document the REST API", body: "As an integrator I want the endpoints written down.", criteria: ["Every endpoint is listed"] },
  { name: "Start a changelog", body: "As a maintainer I want a changelog.", criteria: ["It has an Unreleased section"] },
];

/** Start a huskies child process, logging to a file; resolves with the port it printed. */
function startChild(args: string[], env: Record<string, string>, logFile: string, children: ChildProcess[]): Promise<number> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, HUSKIES_LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  child.stderr!.pipe(createWriteStream(logFile));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const port = /(?:http|ws):\/\/[^:\s]+:(\d+)/.exec(line)?.[1];
      if (port) resolve(Number(port));
    });
    child.once("exit", (code) => reject(new UserError(`huskies ${args[0]} exited with code ${code}; see ${logFile}`)));
  });
}

/**
 * `huskies demo`: a throwaway project (git repo + bare origin) in a temp dir, a server and two
 * agents as real processes, three stories filed and followed to `done`. Offline by default: the
 * real `claude` binary talks to a built-in scripted model; `--live` uses the user's own login.
 */
export async function runDemo(o: { live?: boolean; keep?: boolean; port: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "huskies-demo-"));
  const children: ChildProcess[] = [];
  let model: ScriptedModelServer | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    console.log("\nstopping the demo and removing its files…");
    void cleanup().then(() => process.exit(0));
  });

  try {
    console.log(`huskies demo: a throwaway project in ${dir}`);
    const project = await createDemoProject(dir, 2);
    let env: Record<string, string> = {};
    if (o.live) {
      console.log("live mode: agents run Claude Code with your own login (this costs tokens).");
    } else {
      model = await new ScriptedModelServer(demoModel).start();
      env = model.env(join(dir, "claude-config"));
      console.log(`offline mode: the real \`claude\` binary runs, but talks to huskies' built-in scripted model at ${model.url}`);
      console.log(
        '              (no API key, no network; the "model" writes one file per story and commits it). Use --live for real Claude.',
      );
    }
    const port = await startChild(["serve", project.server, "--port", String(o.port)], env, join(dir, "server.log"), children);
    const base = `http://127.0.0.1:${port}`;
    console.log(`server:  ${base}  (board at ${base}/, merges stories)`);
    for (const [i, agentDir] of project.agents.entries()) {
      const agentPort = await startChild(
        ["agent", agentDir, "--rendezvous", `ws://127.0.0.1:${port}/crdt-sync`, "--port", "0"],
        env,
        join(dir, `agent-${i + 1}.log`),
        children,
      );
      console.log(`agent ${i + 1}: ws://127.0.0.1:${agentPort}/crdt-sync  (codes stories in ${agentDir}/.huskies/worktrees)`);
    }

    const ids: string[] = [];
    for (const s of STORIES) {
      const res = await fetch(`${base}/api/stories`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(s),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) throw new UserError(`filing a demo story failed: ${await res.text()}`);
      const item = (await res.json()) as Item;
      ids.push(item.id);
      console.log(`filed   ${item.id}  (${item.stage})`);
    }

    const last = new Map<string, string>();
    const deadline = Date.now() + DEMO_TIMEOUT_MS;
    for (;;) {
      const view = (await (await fetch(`${base}/api/pipeline`, { signal: AbortSignal.timeout(30_000) })).json()) as PipelineView;
      const items = STAGES.flatMap((st) => view.stages[st]).filter((i) => ids.includes(i.id));
      for (const i of items) {
        if (last.get(i.id) === i.stage) continue;
        const who = i.claim ? ` (${view.nodes.find((n) => n.id === i.claim!.node)?.label ?? i.claim.node.slice(0, 8)})` : "";
        console.log(`${(last.get(i.id) ?? "new").padStart(8)} → ${i.stage.padEnd(8)} ${i.id}${who}`);
        last.set(i.id, i.stage);
      }
      const blocked = items.find((i) => i.blocked);
      if (blocked) throw new UserError(`${blocked.id} was blocked: ${blocked.blocked} (logs in ${dir})`);
      if (items.length === ids.length && items.every((i) => i.stage === "done" || i.stage === "archived")) break;
      if (Date.now() > deadline) throw new UserError(`the demo did not finish in ${DEMO_TIMEOUT_MS / 60_000} minutes; logs are in ${dir}`);
      await new Promise((r) => setTimeout(r, 300));
    }

    console.log("\nall three stories are done. On the origin's main branch:");
    console.log(
      demoGit(project.origin, "log", "--format=%h %s", "main")
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
    console.log(
      `\nwhere to look:\n  board      ${base}/\n  pipeline   ${base}/api/pipeline\n  origin     ${project.origin}\n  logs       ${dir}/*.log, and per story: huskies story log ID --server ${base}`,
    );
    if (!o.keep) {
      console.log("\ncleaning up (run with --keep to keep it running until Ctrl-C).");
      await cleanup();
      return;
    }
    console.log("\nrunning until Ctrl-C; then everything above is removed.");
    await new Promise(() => undefined);
  } catch (err) {
    await cleanup();
    throw err;
  }
}
