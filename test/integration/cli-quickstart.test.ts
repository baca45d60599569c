import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, runCli } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";

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

describe("the quick start from the README", () => {
  it("init, serve, story add, status --json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "huskies-fresh-"));
    tmp.push(dir);
    git(dir, "init", "-q");
    const init = await runCli(["init"], { cwd: dir });
    expect(init.code).toBe(0);
    for (const f of [".huskies/project.toml", ".huskies/agents.toml", ".mcp.json"]) expect(existsSync(join(dir, f))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, ".mcp.json"), "utf8")).mcpServers.huskies.type).toBe("http");

    const server = await cluster.spawn("server", ["serve", "--no-agent", "--port", "0"], { cwd: dir }).ready();
    const env = { HUSKIES_SERVER: server.http };
    const add = await runCli(["story", "add", "Add login", "--type", "story", "--stage", "current"], { cwd: dir, env });
    expect(add.stderr).toBe("");
    expect(add.stdout.trim()).toBe("1_story_add_login");

    const status = await runCli(["status", "--json"], { cwd: dir, env });
    const view = JSON.parse(status.stdout);
    expect(view.stages.current.map((i: { id: string }) => i.id)).toEqual(["1_story_add_login"]);
    expect(view.nodes[0]).toMatchObject({ role: "rendezvous", alive: true });

    const health = await server.health();
    expect(health).toMatchObject({
      nodeId: server.nodeId,
      role: "rendezvous",
      rendezvous: { connected: false },
      mesh: { peers: [], max: 3 },
      running: [],
    });
  });

  it("answers every user error with exit 1 and one line", async () => {
    const notGit = mkdtempSync(join(tmpdir(), "huskies-nogit-"));
    tmp.push(notGit);
    const cases: Array<[string[], RegExp, string?]> = [
      [["init", notGit], /^error: not a git repository: /],
      [["serve", notGit], /^error: serve needs a project: no \.huskies\/ found/],
      [
        ["agent", notGit, "--rendezvous", "ws://127.0.0.1:1/crdt-sync"],
        /^error: agent mode requires a project root \(no \.huskies\/ found\)$/,
      ],
      [["status"], /^error: no \.huskies\/ found/, notGit],
    ];
    for (const [args, pattern, cwd] of cases) {
      const r = await runCli(args, { cwd });
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(pattern);
    }

    const p = project();
    const server = await cluster.server(p.root, ["--no-agent"]);
    const env = { HUSKIES_SERVER: server.http };
    const unknown = await runCli(["story", "show", "99_story_nope"], { env });
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, "error: unknown story 99_story_nope"]);
    await runCli(["story", "add", "X"], { env });
    const badStage = await runCli(["story", "move", "1_story_x", "7_limbo"], { env });
    expect(badStage.code).toBe(1);
    expect(badStage.stderr.trim()).toMatch(/^error: invalid stage "7_limbo"/);

    // Another checkout: on this one the checkout lock answers first (see two-processes-one-checkout).
    const inUse = await runCli(["serve", p.clone("second"), "--no-agent", "--port", String(server.port)]);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr.trim()).toMatch(/^error: port \d+ on 127\.0\.0\.1 is in use/);

    writeFileSync(join(p.root, ".huskies", "project.toml"), 'claim_timeout_secs = "soon"\n');
    const badConfig = await runCli(["serve", p.root, "--port", "0"]);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr.trim()).toMatch(
      new RegExp(`^error: invalid config ${join(p.root, ".huskies", "project.toml")}: key \`claim_timeout_secs\`: `),
    );
  });

  it("refuses to listen beyond loopback without auth", async () => {
    const p = project();
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const a = s.address() as { port: number };
        s.close(() => resolve(a.port));
      });
    });
    const r = await runCli(["serve", p.root, "--no-agent", "--host", "0.0.0.0", "--port", String(port)], {
      env: { HUSKIES_ADMIN_TOKEN: "" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: refusing to listen on 0\.0\.0\.0 without authentication/);
  });

  it("has --help for every command", async () => {
    for (const cmd of [
      ["init"],
      ["serve"],
      ["agent"],
      ["gateway"],
      ["token", "create"],
      ["story", "add"],
      ["story", "move"],
      ["story", "log"],
      ["status"],
      ["demo"],
    ]) {
      const r = await runCli([...cmd, "--help"]);
      expect(r.code, cmd.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/^Usage: huskies /);
    }
  });
});
