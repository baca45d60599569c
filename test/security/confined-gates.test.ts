import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";
import type { Item } from "../../src/state/item.js";

const ADMIN = "admin-token-a-gate-must-never-see";
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- fake-ssh-key-of-the-node-user";
const CLAUDE_LOGIN = '{"claudeAiOauth":{"accessToken":"sk-ant-oat-fake-subscription-login"}}';

const cluster = new Cluster();
let project: Project | undefined;
let home: string | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
  project = home = undefined;
});

/**
 * The hostile test file a coder leaves behind: the gate runs it. It tries every secret of the
 * machine by absolute path (both nodes' keys, the user's ssh key, claude's login), every other
 * process's environment, and writes above its checkout; everything it saw goes into `$1`.
 */
function probeScript(paths: string[], escapes: string[], exit: number): string {
  return [
    'out="$1"',
    ': > "$out"',
    ...paths.map((p) => `cat ${JSON.stringify(p)} >> "$out" 2>&1 || echo "unreadable ${p}" >> "$out"`),
    'for e in /proc/[0-9]*/environ; do tr "\\000" "\\n" < "$e" 2>/dev/null; done | grep -E "HUSKIES_ADMIN_TOKEN|HUSKIES_TOKEN=" >> "$out" || echo "no node tokens in any /proc/*/environ" >> "$out"',
    'ls /proc | grep -E "^[0-9]+$" | wc -l | sed "s/^/processes visible: /" >> "$out"',
    ...escapes.map(
      (p) => `echo escaped > ${JSON.stringify(p)} 2>/dev/null && echo "wrote ${p}" >> "$out" || echo "could not write ${p}" >> "$out"`,
    ),
    `exit ${exit}`,
  ].join("\n");
}

// CI installs bubblewrap and socat (.ci/run): there a missing tool fails instead of skipping.
describe.skipIf(missingSandboxTools().length > 0 && !process.env.CI)("gates and command coders run confined", () => {
  it("a rewritten test file run by the gates, on the coder's node and on the rendezvous' merged tree, sees no key, token, ssh key or claude login, and writes nothing outside", async () => {
    home = mkdtempSync(join(tmpdir(), "huskies-home-"));
    mkdirSync(join(home, ".ssh"));
    writeFileSync(join(home, ".ssh", "id_ed25519"), SSH_KEY, { mode: 0o600 });
    mkdirSync(join(home, ".claude"));
    writeFileSync(join(home, ".claude", ".credentials.json"), CLAUDE_LOGIN, { mode: 0o600 });
    const mergemaster = `[[agent]]\nname = "mm"\nrole = "mergemaster"\nruntime = "command"\ncommand = "true"\n`;
    project = createProject({
      projectToml: projectToml({ default_qa: "server" }, ["sh probe.sh gate-report.txt"]),
      agentsToml: mergemaster,
    });
    const env = { HOME: home, HUSKIES_ADMIN_TOKEN: ADMIN, CLAUDE_CONFIG_DIR: join(home, ".claude") };
    // The rendezvous runs the mergemaster (the README's host-A layout), so it gates the merged tree.
    const server = await cluster.server(project.root, [], env);
    const agentRoot = project.clone("agent");
    const serverKey = join(project.root, ".huskies", "node.key");
    const agentKey = join(agentRoot, ".huskies", "node.key");
    const secrets = [serverKey, agentKey, join(home, ".ssh", "id_ed25519"), join(home, ".claude", ".credentials.json")];
    const escapes = [join(agentRoot, "escaped-by-gate.txt"), join(project.root, "escaped-by-gate.txt"), join(home, "escaped-by-gate.txt")];
    // The coder (a command slot, confined too) runs the probe and leaves it as the test file.
    const b64 = Buffer.from(probeScript(secrets, escapes, 0)).toString("base64");
    // The gates' report is ignored by git: huskies never commits what gates leave, so on the merged
    // tree it stays on the rendezvous' disk for the test to read.
    const script = `echo ${b64} | base64 -d > probe.sh && sh probe.sh coder-report.txt; echo gate-report.txt >> .gitignore; git add -A && git commit -qm "rewrite the test file"`;
    writeFileSync(join(agentRoot, ".huskies", "agents.toml"), commandSlots(1, script));
    await cluster.agent(agentRoot, server.ws, [], env);

    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Rewrite the tests", stage: "current" });
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "done",
      "the story to be merged",
      60_000,
      250,
    ).catch(async (err) => {
      console.error(JSON.stringify(await getJson<Item>(`${server.http}/api/stories/${s.id}`)));
      for (const p of cluster.procs) console.error(p.name, JSON.stringify(p.logs.filter((l) => (l.level ?? 0) >= 40).slice(-15)));
      throw err;
    });

    const coderReport = git(project.origin, "show", `feature/story-${s.id}:coder-report.txt`);
    const gateReport = readFileSync(join(agentRoot, ".huskies", "worktrees", s.id, "gate-report.txt"), "utf8");
    const mergedReport = readFileSync(join(project.root, ".huskies", "merge_workspace", "gate-report.txt"), "utf8");
    const keys = [serverKey, agentKey].map((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("-----"))
        .join(""),
    );
    for (const [where, report] of [
      ["coder", coderReport],
      ["gate on the coder's node", gateReport],
      ["gate on the merged tree", mergedReport],
    ] as const) {
      for (const k of keys) expect(report, where).not.toContain(k.slice(0, 24));
      expect(report, where).not.toContain("PRIVATE KEY");
      expect(report, where).not.toContain("fake-ssh-key");
      expect(report, where).not.toContain("fake-subscription-login");
      expect(report, where).not.toContain(ADMIN);
      expect(report, where).toContain("no node tokens in any /proc/*/environ");
      for (const f of secrets) expect(report, where).toContain(`unreadable ${f}`);
      // Its own PID namespace: a handful of processes, not the machine's.
      expect(Number(/processes visible: (\d+)/.exec(report)?.[1]), where).toBeLessThan(20);
    }
    // Writes above the checkout land in the run's private /tmp or fail; none reaches the host.
    for (const e of escapes) expect(existsSync(e), e).toBe(false);
  });

  it("a gate still fails by its exit code, with its output fed back", async () => {
    // Each attempt adds a commit, so every attempt (not only the first) is judged by the gate.
    const everyTime = 'date +%s%N >> "story-$HUSKIES_STORY_ID.txt" && git add -A && git commit -qm "work on $HUSKIES_STORY_ID"';
    project = createProject({
      projectToml: projectToml({}, ["echo confined gate says no; exit 7"]),
      agentsToml: commandSlots(1, everyTime),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("agent"), server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Fail the gate", stage: "current" });
    const failed = await waitFor(
      async () => {
        const item = await getJson<Item>(`${server.http}/api/stories/${s.id}`);
        return item.retries > 0 ? item : undefined;
      },
      "a failed attempt",
      60_000,
      250,
    );
    expect(failed.failure?.kind, failed.failure?.message).toBe("gates");
    expect(failed.failure?.message).toContain("failed (exit 7)");
    expect(failed.failure?.message).toContain("confined gate says no");
  });
});
