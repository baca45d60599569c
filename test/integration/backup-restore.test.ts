import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
const projects: Project[] = [];
const tmp: string[] = [];
afterEach(async () => {
  await cluster.stopAll();
  projects.splice(0).forEach((p) => p.cleanup());
  tmp.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function project(opts?: Parameters<typeof createProject>[0]): Project {
  const p = createProject(opts);
  projects.push(p);
  return p;
}

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "huskies-backup-"));
  tmp.push(d);
  return d;
}

/** Files stories through REST, two at a time, until stopped; records when each was acknowledged. */
function startFiling(http: string): { acked: Array<{ id: string; at: number }>; stop(): Promise<void> } {
  const acked: Array<{ id: string; at: number }> = [];
  let stopped = false;
  let n = 0;
  const lane = async () => {
    while (!stopped) {
      const res = await fetch(`${http}/api/stories`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `Filed ${n++}`, stage: "backlog" }),
      });
      if (res.ok) acked.push({ id: ((await res.json()) as Item).id, at: Date.now() });
    }
  };
  const lanes = [lane(), lane()];
  return {
    acked,
    async stop() {
      stopped = true;
      await Promise.all(lanes);
    },
  };
}

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));

describe("huskies backup and restore", () => {
  it("a backup taken while stories are filed restores, into an empty .huskies, a node with the same key holding every story acknowledged before it began", async () => {
    const p = project({ projectToml: projectToml({ auto_promote: false }) });
    const server = await cluster.server(p.root, ["--no-agent"]);
    const filing = startFiling(server.http);
    await waitFor(() => filing.acked.length >= 30, "30 stories filed", 60_000);
    const file = join(scratch(), "node.hbak");
    const began = Date.now();
    const backup = await runCli(["backup", file, p.root]);
    const ackedDuring = filing.acked.filter((a) => a.at > began).length;
    await filing.stop();
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toContain(`backed up node ${server.nodeId.slice(0, 12)} (rendezvous,`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The node kept acknowledging writes while its replica was being copied.
    expect(ackedDuring).toBeGreaterThan(0);
    const before = filing.acked.filter((a) => a.at < began).map((a) => a.id);
    await server.stop();

    // A fresh checkout (its committed project.toml and agents.toml are in .huskies already).
    const clone = p.clone("restored");
    const restore = await runCli(["restore", file, clone]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(new RegExp(`^restored node ${server.nodeId.slice(0, 12)} \\(rendezvous\\) into .*restored/\\.huskies`));
    expect(statSync(join(clone, ".huskies", "node.key")).mode & 0o777).toBe(0o600);

    const restored = await cluster.server(clone, ["--no-agent"]);
    expect(restored.nodeId).toBe(server.nodeId);
    const ids = new Set((await getJson<Item[]>(`${restored.http}/api/stories`)).map((i) => i.id));
    expect(before.filter((id) => !ids.has(id))).toEqual([]);
    expect(ids.size).toBeGreaterThanOrEqual(before.length);

    // Restoring again over the node that is there now is refused, in one line, and changes nothing.
    const again = await runCli(["restore", file, clone]);
    expect(again.code).toBe(1);
    expect(errorLines(again.stderr)).toHaveLength(1);
    expect(again.stderr.trim()).toMatch(
      /^error: refusing to restore into .*\.huskies: it already holds .*node\.key.*move it aside first\)$/,
    );
  });

  it("an agent restored from a backup taken while it ran comes back with its own key, pin and certificate: no new join string", async () => {
    const ADMIN = "backup-admin";
    const p = project({ projectToml: 'auth = "required"\n' + projectToml({}), agentsToml: commandSlots(1) });
    const server = await cluster.server(p.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: ADMIN });
    const env = { HUSKIES_SERVER: server.http, HUSKIES_ADMIN_TOKEN: ADMIN };
    const mint = await runCli(["token", "create", "--ttl", "10m"], { env });
    expect(mint.code, mint.stderr).toBe(0);
    const root = p.clone("agent");
    const agent = await cluster.spawn("agent", ["agent", root, "--join", mint.stdout.split("\n")[0]!, "--port", "0"]).ready();
    await waitFor(async () => (await agent.health()).rendezvous.connected, "the agent to link");
    const file = join(scratch(), "agent.hbak");
    const backup = await runCli(["backup", file, root]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/\(agent, 0 stories\).*admission\.json.*node\.key.*rendezvous\.json/);
    await agent.stop();

    const fresh = p.clone("agent-again");
    expect((await runCli(["restore", file, fresh])).code).toBe(0);
    // No --join, no token: the restored pin says where and whom, the key and certificate say who.
    const back = await cluster.spawn("agent-again", ["agent", fresh, "--port", "0"]).ready();
    expect(back.nodeId).toBe(agent.nodeId);
    await waitFor(async () => (await back.health()).rendezvous.connected, "the restored agent to link with its old credentials");
  });

  it("answers bad input with one line and exit 1, and writes nothing", async () => {
    const p = project();
    const dir = scratch();
    const notBackup = join(dir, "notes.txt");
    writeFileSync(notBackup, "hello\n");
    const cases: Array<[string[], RegExp]> = [
      [["backup", join(dir, "b.hbak"), p.root], /^error: .*\.huskies has no node\.key: there is no node here to back up$/],
      [["restore", notBackup, p.clone("x")], /^error: .*notes\.txt is not a huskies backup: /],
      [["restore", join(dir, "missing.hbak"), p.root], /^error: no such backup: /],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(pattern);
    }
    // A node, and then the places a backup may not go.
    const server = await cluster.server(p.root, ["--no-agent"]);
    const inside = await runCli(["backup", join(p.root, ".huskies", "b.hbak"), p.root]);
    expect([inside.code, errorLines(inside.stderr)]).toEqual([1, [expect.stringMatching(/^error: write the backup outside /)]]);
    const overwrite = await runCli(["backup", notBackup, p.root]);
    expect([overwrite.code, errorLines(overwrite.stderr)]).toEqual([
      1,
      [expect.stringMatching(/^error: refusing to overwrite .*notes\.txt: it is not a huskies backup$/)],
    ]);
    await server.stop();
  });
});
