import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, type NodeProc } from "../support/cluster.js";
import { claudeSlot, projectToml } from "../support/coders.js";
import { memoryCgroupOf, memoryCgroupsUsable, waitForLine } from "../support/fault-kit.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { ScriptedModelServer, type Script, type ScriptedReply } from "../support/model-server.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const WARM_UP: ScriptedReply = { tool: { name: "Bash", input: { command: "echo warming up", description: "Look around" } } };
const COMMIT: ScriptedReply = {
  tool: {
    name: "Bash",
    input: { command: "echo 'hello from claude' > hello.txt && git add hello.txt && git commit -qm 'Add hello'", description: "Commit" },
  },
};

/**
 * The first run looks around, then its next model call is held (claude mid-run, waiting on the
 * API) until the test has killed it. Every later run commits hello.txt and finishes.
 */
function heldOnce(): { script: Script; reached: Promise<void>; release(): void } {
  let reachedFn!: () => void;
  let releaseFn!: () => void;
  const reached = new Promise<void>((r) => (reachedFn = r));
  const released = new Promise<void>((r) => (releaseFn = r));
  let held = false;
  const script: Script = async ({ request, step }) => {
    if (!held) {
      if (step === 0) return WARM_UP;
      held = true;
      reachedFn();
      await released;
      return { text: "too late" };
    }
    return JSON.stringify(request.body.messages).includes("Add hello") ? { text: "Done: hello.txt is committed." } : COMMIT;
  };
  return { script, reached, release: releaseFn };
}

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
let configDir: string | undefined;
let hog: ChildProcess | undefined;
let release: (() => void) | undefined;
afterEach(async () => {
  release?.();
  hog?.kill("SIGKILL");
  await cluster.stopAll();
  await model?.close();
  project?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  hog = project = model = configDir = release = undefined;
});

async function start(held: ReturnType<typeof heldOnce>): Promise<{ server: NodeProc; agent: NodeProc; root: string; story: Item }> {
  release = held.release;
  model = await new ScriptedModelServer(held.script).start();
  configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
  // A one-second pause after node trouble, so the same agent takes the story up again here.
  project = createProject({
    projectToml: projectToml({ max_coders: 1, limit_backoff_secs: 1 }, ["test -f hello.txt"]),
    agentsToml: claudeSlot({ sandbox: "off" }),
  });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const root = project.clone("a");
  const agent = await cluster.agent(root, server.ws, [], model.env(configDir));
  const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Say hello", stage: "current" });
  await waitFor(() => held.reached.then(() => true), "claude mid-run, waiting on the model", 90_000);
  return { server, agent, root, story };
}

function claudePid(root: string, id: string): number {
  return (JSON.parse(readFileSync(join(root, ".huskies", "running.json"), "utf8")) as Record<string, { pid: number }>)[id]!.pid;
}

async function inQa(server: NodeProc, id: string): Promise<Item> {
  return waitFor(
    async () => {
      const s = await getJson<Item>(`${server.http}/api/stories/${id}`);
      return s.stage === "qa" ? s : undefined;
    },
    "the story in qa",
    120_000,
    250,
  );
}

describe("claude killed mid-run (issue 24, row 16)", () => {
  it.skipIf(!memoryCgroupsUsable())(
    "killed by the kernel's OOM killer (its memory cgroup counts it): lost, no retry spent, the same session resumed",
    async () => {
      const held = heldOnce();
      const { server, agent, root, story } = await start(held);
      const pid = claudePid(root, story.id);
      const cg = memoryCgroupOf(pid);
      expect(cg.dir).toMatch(/\/huskies\/run-\d+-\d+$/);
      // Real memory pressure in claude's own cgroup: a limit just above what it uses, claude as
      // the OOM killer's choice, and another process of the cgroup asking for 128 MB.
      writeFileSync(`/proc/${pid}/oom_score_adj`, "1000");
      cg.limit(cg.usage() + 64 * 1024 * 1024);
      const grab = "const a=[];for(let i=0;i<16;i++)a.push(Buffer.alloc(8<<20,1));setInterval(()=>a.length,1e3)";
      hog = spawn("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$1" -e "$2"', cg.dir, process.execPath, grab], { stdio: "ignore" });

      const trouble = await waitForLine(
        agent,
        (l) => String(l.msg).startsWith("node trouble: claim given back"),
        "the OOM kill taken as node trouble",
      );
      expect(trouble).toMatchObject({ story: story.id, kind: "out_of_memory" });
      hog.kill("SIGKILL");
      held.release();

      const done = await inQa(server, story.id);
      expect(done.retries).toBe(0);
      const runs = agent.logged("agent invocation");
      expect(runs).toHaveLength(2);
      expect(runs[1]!.resume).toEqual(expect.any(String));
      expect(done.lastRun).toMatchObject({ outcome: "done", sessionId: runs[1]!.resume });
      expect(JSON.stringify(model!.requests.at(-1)!.body.messages)).toContain("was interrupted");
    },
    240_000,
  );

  it("a plain kill -9 stays a story failure: one retry spent, a fresh session", async () => {
    const held = heldOnce();
    const { server, agent, root, story } = await start(held);
    process.kill(claudePid(root, story.id), "SIGKILL");
    held.release();
    const done = await inQa(server, story.id);
    expect(done.retries).toBe(1);
    const runs = agent.logged("agent invocation");
    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.resume === undefined)).toBe(true);
    expect(agent.logs.some((l) => String(l.msg).startsWith("node trouble"))).toBe(false);
  }, 240_000);
});
