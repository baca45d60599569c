import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { costMeter } from "../support/proc-stats.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let frozen: NodeProc | undefined;
afterEach(async () => {
  frozen?.kill("SIGCONT");
  frozen = undefined;
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

const inQa = async (server: NodeProc) => (await getJson<Item[]>(`${server.http}/api/stories`)).filter((i) => i.stage === "qa").length;
const linked = async (p: NodeProc) => (await p.health()).rendezvous.connected;

describe("a rendezvous frozen with SIGSTOP (row 1)", () => {
  it("no agent crashes, one started against it keeps waiting, and stories move again after SIGCONT", async () => {
    // Short link timings so the freeze covers several dropped links and reconnect attempts in a
    // few seconds (at the defaults the same happens over a minute).
    project = createProject({ projectToml: projectToml({ link_ping_secs: 1, handshake_timeout_secs: 2 }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agents = await Promise.all([1, 2].map((i) => cluster.agent(project!.clone(`agent${i}`), server.ws)));
    await waitFor(async () => (await Promise.all(agents.map(linked))).every(Boolean), "both agents to link");
    for (let i = 0; i < 2; i++) await postJson<Item>(`${server.http}/api/stories`, { name: `Before ${i}`, stage: "current" });
    await waitFor(async () => (await inQa(server)) === 2, "the first stories to reach qa", 60_000, 250);

    server.kill("SIGSTOP");
    const frozenAt = performance.now();
    frozen = server;
    const meter = costMeter(agents);
    // Both links are found dead (two unanswered pings) and reconnect attempts hang in the
    // handshake: the agents log them and try again.
    await waitFor(async () => !(await linked(agents[0]!)) && !(await linked(agents[1]!)), "the agents to drop their links", 20_000, 250);
    const late = cluster.spawn("late-agent", ["agent", project.clone("late"), "--rendezvous", server.ws, "--port", "0"]);
    await late.ready(60_000);
    // Several handshake deadlines pass with the server frozen.
    await waitFor(
      () =>
        agents.every((a) => a.logged("sync link down, reconnecting").length >= 4) &&
        late.logged("sync link down, reconnecting").length >= 3,
      "reconnect attempts to fail against the frozen server",
      60_000,
      250,
    );
    const cost = meter.since();
    for (const p of [...agents, late]) expect(p.proc.exitCode, `${p.name} exited`).toBeNull();
    for (const c of cost) {
      expect(c.cpuShare, `${c.name} CPU while the rendezvous is frozen`).toBeLessThan(0.05);
      expect(c.logBytesPerMin, `${c.name} log volume`).toBeLessThan(1024 * 1024);
    }
    const crashes = [...agents, late].flatMap((p) =>
      p.logs.filter((l) => /not open|readyState/.test(String(l.msg ?? "") + String(l.err ?? ""))),
    );
    expect(crashes).toEqual([]);

    server.kill("SIGCONT");
    const frozenSecs = (performance.now() - frozenAt) / 1000;
    frozen = undefined;
    await waitFor(async () => (await Promise.all([...agents, late].map(linked))).every(Boolean), "every agent to link again", 60_000, 250);
    for (let i = 0; i < 4; i++) await postJson<Item>(`${server.http}/api/stories`, { name: `After ${i}`, stage: "current" });
    await waitFor(async () => (await inQa(server)) === 6, "the stories filed after SIGCONT to reach qa", 90_000, 250);
    for (const p of [...agents, late]) expect(p.proc.exitCode, `${p.name} exited`).toBeNull();
    console.log(JSON.stringify({ row: 1, frozenSecs, cost }));
  }, 240_000);
});
