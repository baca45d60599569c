import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { COMMIT_SCRIPT, commandSlots, projectToml, sandboxReads } from "../support/coders.js";
import { cpuMeter, errorLines, jobStarts, logBytesPerMinute, SmallDisk, waitForLine } from "../support/fault-kit.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let disk: SmallDisk | undefined;
const disks: SmallDisk[] = [];
let hooks: Server | undefined;
afterEach(async () => {
  disk?.free();
  await cluster.stopAll();
  disk?.unmount();
  disk = undefined;
  for (const d of disks.splice(0)) d.unmount();
  await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
  hooks = undefined;
  project?.cleanup();
  project = undefined;
});

describe("an agent whose .huskies is on a full disk (issue 24, row 3)", () => {
  it.skipIf(!SmallDisk.available())(
    "pauses with one clear line, gives the claim back without a retry, never loops; another agent does the story",
    async () => {
      project = createProject();
      const signals = join(project.dir, "signals");
      mkdirSync(signals);
      const go = join(signals, "go");
      // The coder waits for the test's signal, so the disk fills while it holds the claim.
      const coder = `while [ ! -f ${go} ]; do sleep 0.1; done; ${COMMIT_SCRIPT}`;
      writeFileSync(
        join(project.root, ".huskies", "project.toml"),
        projectToml({ max_coders: 1, claim_timeout_secs: 8 }) + sandboxReads(signals),
      );
      writeFileSync(join(project.root, ".huskies", "agents.toml"), commandSlots(1, coder));
      git(project.root, "commit", "-qam", "a coder that waits");
      git(project.root, "push", "-q", "origin", "main");
      const server = await cluster.server(project.root, ["--no-agent"]);
      const rootA = project.clone("a");
      disk = new SmallDisk(join(rootA, ".huskies"), 16).mount();
      const a = await cluster.agent(rootA, server.ws);

      const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Work on a full disk", stage: "current" });
      await waitFor(
        () => a.logged("agent process started").some((l) => l.story === story.id && Number(l.pid) > 0),
        "agent A's coder to start",
        60_000,
      );
      disk.fill();
      writeFileSync(go, "");
      const trouble = await waitForLine(
        a,
        (l) => String(l.msg).startsWith("node trouble: claim given back"),
        "agent A to call it node trouble",
      );
      expect(trouble).toMatchObject({ story: story.id, kind: "disk_full" });
      expect(String(trouble.msg)).toContain("free disk space on this machine");
      const paused = await waitFor(async () => (await a.health()) as unknown as { paused: { reason: string } | null }, "A's health");
      expect(paused.paused?.reason).toMatch(/^disk full/);
      const meter = cpuMeter(a.proc.pid!);
      const since = Date.now();

      // A's replica cannot persist either, so nothing it writes goes out (the store rule): the
      // rendezvous sees it go silent, and once its claim times out another agent takes the story.
      const b = await cluster.agent(project.clone("b"), server.ws);
      const done = await waitFor(
        async () => {
          const s = await getJson<Item>(`${server.http}/api/stories/${story.id}`);
          return s.stage === "qa" ? s : undefined;
        },
        "agent B to finish the story",
        90_000,
      );
      expect(done.retries).toBe(0);
      expect(done.lastRun?.node).toBe(b.nodeId);
      // No crash, no hot loop, quiet while paused.
      expect(a.proc.exitCode).toBeNull();
      expect(jobStarts(a, story.id)).toHaveLength(1);
      expect(logBytesPerMinute(a, since)).toBeLessThan(1024 * 1024);
      // A loop costs a whole core; following the other agent's signed writes (sync, verification)
      // costs a few percent, more on a loaded machine.
      expect(meter.share()).toBeLessThan(0.25);
      expect(errorLines(a).filter((l) => String(l.msg).startsWith("node trouble"))).toHaveLength(1);

      // Space comes back: A's replica catches up, and everyone agrees nothing was charged to the
      // story (A's own writes say "claim given back", not "attempt failed").
      disk.free();
      await waitFor(
        async () =>
          (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).find((n) => n.id === a.nodeId)?.paused?.reason.startsWith("disk full"),
        "A's pause to reach the rendezvous once its store can write again",
        30_000,
      );
      const after = await getJson<Item>(`${server.http}/api/stories/${story.id}`);
      expect(after).toMatchObject({ stage: "qa", retries: 0 });
      expect(after.failure).toBeUndefined();
    },
    150_000,
  );

  it.skipIf(!SmallDisk.available())(
    "a story that fills the disk wherever it runs is blocked as node_trouble_everywhere after two nodes, with a notify event",
    async () => {
      const events: Array<Record<string, unknown>> = [];
      hooks = createServer((req, res) => {
        let raw = "";
        req.on("data", (c) => (raw += c));
        req.on("end", () => {
          events.push(JSON.parse(raw) as Record<string, unknown>);
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => hooks!.listen(0, "127.0.0.1", () => r()));
      const hook = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hook`;
      // The story's coder writes until the disk holding the worktrees is full.
      const filler = "dd if=/dev/zero of=huge.bin bs=1M count=64";
      project = createProject({
        projectToml: `${projectToml({ max_coders: 1 })}\n[[notify]]\nurl = "${hook}"\nevents = ["blocked"]\n`,
        agentsToml: commandSlots(1, filler),
      });
      const server = await cluster.server(project.root, ["--no-agent"]);
      const agents = [];
      for (const name of ["a", "b"]) {
        const root = project.clone(name);
        mkdirSync(join(root, ".huskies", "worktrees"), { recursive: true });
        disks.push(new SmallDisk(join(root, ".huskies", "worktrees"), 8).mount());
        agents.push(await cluster.agent(root, server.ws));
      }
      const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Write a huge file", stage: "current" });
      const blocked = await waitFor(
        async () => {
          const s = await getJson<Item>(`${server.http}/api/stories/${story.id}`);
          return s.blocked ? s : undefined;
        },
        "the story to be blocked after troubling both nodes",
        60_000,
      );
      expect(blocked).toMatchObject({ retries: 0, failure: { kind: "node_trouble_everywhere" }, claim: null });
      expect(blocked.blocked).toMatch(/^node trouble on 2 nodes \(disk_full\)/);
      expect([...(blocked.troubledNodes ?? [])].sort()).toEqual(agents.map((a) => a.nodeId).sort());
      // Each node ran it once and paused; neither took it again.
      for (const a of agents) expect(jobStarts(a, story.id)).toHaveLength(1);
      const event = await waitFor(() => events.find((e) => e.event === "blocked" && e.story === story.id), "the blocked webhook");
      expect(event).toMatchObject({ kind: "node_trouble_everywhere" });
      expect(String(event.reason)).toContain("disk_full");
    },
    120_000,
  );
});
