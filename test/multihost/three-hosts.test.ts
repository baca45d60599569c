import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeProc } from "../support/cluster.js";
import { createProject, git, originBranches, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml, sandboxReads } from "../support/coders.js";
import { NetnsLab, netnsUnavailable } from "../support/netns.js";
import { PACKAGE_ROOT } from "../support/paths.js";
import { rawRequest } from "../support/raw-http.js";
import { selfSignedCert, type TestCert } from "../support/tls-cert.js";
import { waitFor } from "../support/wait-for.js";
import { decodeJoin } from "../../src/trust/join-string.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

/**
 * Three machines, as the README's "Run it on several machines" describes them: host A runs the
 * server (TLS, admin token) and a gateway, B joins with a join string from `huskies token
 * create`, C through the gateway; B and C mesh over the addresses they advertise. A story is
 * coded on B while A's cable is pulled and merged on A once it is back. Each host is a Linux
 * network namespace (root needed; skipped otherwise, with the reason printed).
 */
const skip = netnsUnavailable();
// CI runs as root with iproute2 installed: there a missing capability is a failure, not a skip.
if (skip && process.env.CI) throw new Error(`the multi-host test cannot run in CI: ${skip}`);
if (skip) console.log(`skipping the multi-host test: ${skip}`);

const PROJECT_ADMIN = "project-admin-secret";
const GATEWAY_ADMIN = "gateway-admin-secret";
/** A loaded 2-core machine runs five node processes here: waits are generous, never fixed sleeps. */
const LONG = 90_000;

describe.skipIf(!!skip)("three hosts in network namespaces", () => {
  let lab: NetnsLab;
  let project: Project;
  let A: string, B: string, C: string;
  let certA: TestCert, certB: TestCert, certC: TestCert;
  // In a directory of its own that confined coders may read ([sandbox] allow_read).
  const release = () => join(project.dir, "signals", "release-the-coder");

  beforeAll(() => {
    lab = new NetnsLab(["a", "b", "c"]);
    [A, B, C] = ["a", "b", "c"].map((h) => lab.host(h).ip) as [string, string, string];
    // One repository; origin is a bare repo on the shared file system (a file path on every host).
    // A merges; B codes (its coder waits until the test says go); C has no slots.
    project = createProject({
      projectToml: projectToml({ default_qa: "server", node_alive_secs: 15 }),
      agentsToml: commandSlots(1, "true", "mergemaster", "mergemaster"),
    });
    certA = selfSignedCert(project.dir, "host-a", [A]);
    certB = selfSignedCert(project.dir, "host-b", [B]);
    certC = selfSignedCert(project.dir, "host-c", [C]);
    // Host A's checkout says how other machines reach it.
    writeFileSync(
      join(project.root, ".huskies", "project.toml"),
      `public_urls = ["https://${A}:3001"]\n${projectToml({ default_qa: "server", node_alive_secs: 15 })}`,
    );
    mkdirSync(dirname(release()));
  });
  afterAll(async () => {
    await lab?.teardown();
    project?.cleanup();
  });

  const admin = { authorization: `Bearer ${PROJECT_ADMIN}` };
  const onA = async <T>(path: string): Promise<T> => (await rawRequest(`https://${A}:3001${path}`, { headers: admin })).json<T>();
  const publicHealth = async (ip: string) =>
    (await rawRequest(`https://${ip}:3002/health`)).json<{
      rendezvous: { connected: boolean };
      mesh: { connectedCount: number };
      digest: string;
    }>();

  it(
    "join strings, routable addresses, a mesh across hosts, work through a partition, and no reads without credentials",
    { timeout: 600_000 },
    async () => {
      // On failure every process's log goes to test-results/multihost-logs (what CI keeps).
      await threeHosts().catch((err: unknown) => {
        lab.dumpLogs(join(PACKAGE_ROOT, "test-results", "multihost-logs"));
        throw err;
      });
    },
  );

  async function threeHosts(): Promise<void> {
    // --- host A: the server and the gateway ---
    const server = await lab
      .spawn("a", "server", ["serve", project.root, "--host", "0.0.0.0", "--tls-cert", certA.cert, "--tls-key", certA.key], {
        HUSKIES_ADMIN_TOKEN: PROJECT_ADMIN,
      })
      .ready(LONG);
    expect(server.port).toBe(3001);
    const projectsToml = join(project.dir, "projects.toml");
    writeFileSync(
      projectsToml,
      `[[project]]\nname = "demo"\nurl = "https://${A}:3001"\nadmin_token_env = "DEMO_ADMIN_TOKEN"\nfingerprint = "${certA.fingerprint}"\n`,
    );
    const gateway = await lab
      .spawn("a", "gateway", ["gateway", "--host", "0.0.0.0", "--config", projectsToml, "--tls-cert", certA.cert, "--tls-key", certA.key], {
        HUSKIES_ADMIN_TOKEN: GATEWAY_ADMIN,
        DEMO_ADMIN_TOKEN: PROJECT_ADMIN,
      })
      .ready(LONG, "gateway listening");
    expect(gateway.port).toBe(3000);

    // On A: a join string for B from the server, one for C from the gateway.
    const cliEnv = (token: string) => ({ HUSKIES_ADMIN_TOKEN: token, HUSKIES_SERVER_CERT: certA.cert });
    const forB = await lab.cli("a", ["token", "create", "--server", `https://${A}:3001`], cliEnv(PROJECT_ADMIN));
    expect(forB.code, forB.stderr).toBe(0);
    const joinB = forB.stdout.split("\n")[0]!;
    expect(decodeJoin(joinB)).toMatchObject({
      kind: "rendezvous",
      url: `wss://${A}:3001/crdt-sync`,
      nodeId: server.nodeId,
      fingerprint: certA.fingerprint,
    });
    const forC = await lab.cli("a", ["token", "create", "--server", `https://${A}:3000`, "--project", "demo"], cliEnv(GATEWAY_ADMIN));
    expect(forC.code, forC.stderr).toBe(0);
    const joinC = forC.stdout.split("\n")[0]!;
    expect(decodeJoin(joinC)).toMatchObject({ kind: "gateway", url: `https://${A}:3000`, project: "demo", fingerprint: certA.fingerprint });

    // --- hosts B and C: agents with their own certificates ---
    const rootB = project.clone("host-b");
    writeFileSync(
      join(rootB, ".huskies", "project.toml"),
      projectToml({ default_qa: "server", node_alive_secs: 15 }) + sandboxReads(dirname(release())),
    );
    writeFileSync(
      join(rootB, ".huskies", "agents.toml"),
      commandSlots(
        1,
        `while [ ! -f ${JSON.stringify(release())} ]; do sleep 0.2; done; ${'echo coded on B > story-$HUSKIES_STORY_ID.txt && git add -A && git commit -qm "work on $HUSKIES_STORY_ID"'}`,
      ),
    );
    const rootC = project.clone("host-c");
    writeFileSync(join(rootC, ".huskies", "agents.toml"), "# no slots on this host\n");
    const b: NodeProc = await lab
      .spawn("b", "agent", ["agent", rootB, "--join", joinB, "--label", "host-b", "--tls-cert", certB.cert, "--tls-key", certB.key])
      .ready(LONG);
    const c: NodeProc = await lab
      .spawn("c", "agent", ["agent", rootC, "--join", joinC, "--label", "host-c", "--tls-cert", certC.cert, "--tls-key", certC.key])
      .ready(LONG);
    expect(b.logs.find((l) => l.msg === "huskies node listening")).toMatchObject({ host: "0.0.0.0", port: 3002 });

    // Each node entry carries an address the other hosts can dial: its own IP on the lab network.
    const entries = await waitFor(
      async () => {
        const nodes = await onA<NodeEntry[]>("/api/nodes");
        const [eb, ec] = [nodes.find((n) => n.id === b.nodeId), nodes.find((n) => n.id === c.nodeId)];
        return eb?.address === `wss://${B}:3002/crdt-sync` && ec?.address === `wss://${C}:3002/crdt-sync` ? { nodes, eb, ec } : undefined;
      },
      "B's and C's advertised addresses on A",
      LONG,
      250,
    );
    expect(entries.eb.fingerprint).toBe(certB.fingerprint);
    expect(entries.ec.fingerprint).toBe(certC.fingerprint);
    expect(entries.nodes.find((n) => n.id === server.nodeId)!.address).toBe(`wss://${A}:3001/crdt-sync`);

    // B and C mesh over those addresses (wss, each pinning the other's certificate).
    await waitFor(
      async () => (await publicHealth(B)).mesh.connectedCount === 1 && (await publicHealth(C)).mesh.connectedCount === 1,
      "the B–C mesh link",
      LONG,
      250,
    );
    expect(b.logs.some((l) => l.msg === "sync link up" && l.url === `wss://${C}:3002/crdt-sync`)).toBe(true);
    expect(c.logs.some((l) => l.msg === "sync link up" && l.url === `wss://${B}:3002/crdt-sync`)).toBe(true);

    // The gateway lists C in its project with its address and liveness.
    const listed = await waitFor(
      async () => {
        const rows = (await rawRequest(`https://${A}:3000/gateway/agents`, { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` } })).json<
          Array<{ nodeId: string; project: string; address: string; alive: boolean | null }>
        >();
        return rows.find((r) => r.nodeId === c.nodeId && r.alive && r.address === `wss://${C}:3002/crdt-sync`);
      },
      "C on the gateway",
      LONG,
      250,
    );
    expect(listed.project).toBe("demo");

    // --- a story coded on B while A's cable is pulled ---
    const created = await rawRequest(`https://${A}:3001/api/stories`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ name: "Coded on B", stage: "current" }),
    });
    const story = created.json<Item>();
    await waitFor(
      async () => (await onA<Item>(`/api/stories/${story.id}`)).claim?.node === b.nodeId,
      "A to grant the story to B",
      LONG,
      250,
    );
    await waitFor(() => b.logs.some((l) => l.msg === "agent invocation" && l.story === story.id), "B's coder to start", LONG);
    lab.cut("a");
    await waitFor(
      async () => !(await publicHealth(B)).rendezvous.connected && !(await publicHealth(C)).rendezvous.connected,
      "B and C to lose A",
      LONG,
      250,
    );
    writeFileSync(release(), "");
    await waitFor(
      () => b.logs.some((l) => l.msg === "story submitted to qa" && l.story === story.id),
      "B to finish, push and submit the story",
      LONG,
    );
    expect(originBranches(project.origin)).toContain(`feature/story-${story.id}`);
    // B's work reaches C over the mesh while A is away; A itself has not seen it.
    await waitFor(
      async () => (await publicHealth(B)).digest === (await publicHealth(C)).digest,
      "B and C to converge without A",
      LONG,
      250,
    );
    const seenOnA = await lab.cli("a", ["story", "show", story.id, "--json", "--server", "https://127.0.0.1:3001"], cliEnv(PROJECT_ADMIN));
    expect(JSON.parse(seenOnA.stdout)).toMatchObject({ stage: "current" });

    lab.heal("a");
    const done = await waitFor(
      async () => {
        const i = await onA<Item>(`/api/stories/${story.id}`);
        return i.stage === "done" ? i : undefined;
      },
      "A to merge the story after the link heals",
      LONG * 2,
      500,
    );
    expect(done.mergeCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(git(project.origin, "show", `main:story-${story.id}.txt`)).toBe("coded on B");

    // --- unauthenticated reads from C are refused: REST 401, /crdt-sync without an admitted key closed ---
    const probe = await lab.run("c", process.execPath, [
      join(PACKAGE_ROOT, "test", "multihost", "unauthenticated-probe.mjs"),
      JSON.stringify({
        rest: [
          `https://${A}:3001/api/pipeline`,
          `https://${A}:3001/api/stories/${story.id}`,
          `https://${B}:3002/api/pipeline`,
          `https://${A}:3001/health`,
          `https://${A}:3000/gateway/agents`,
        ],
        sync: [`wss://${A}:3001/crdt-sync`, `wss://${B}:3002/crdt-sync`],
      }),
    ]);
    expect(probe.code, probe.stderr).toBe(0);
    const seen = JSON.parse(probe.stdout) as {
      rest: Record<string, { status: number; text: string }>;
      sync: Record<string, { code: number; reason: string; syncFrames: number }>;
    };
    expect(seen.rest[`https://${A}:3001/api/pipeline`]!.status).toBe(401);
    expect(seen.rest[`https://${A}:3001/api/stories/${story.id}`]!.status).toBe(401);
    expect(seen.rest[`https://${B}:3002/api/pipeline`]!.status).toBe(401);
    expect(seen.rest[`https://${A}:3000/gateway/agents`]!.status).toBe(401);
    const health = seen.rest[`https://${A}:3001/health`]!;
    expect(health.status).toBe(200);
    expect(health.text).not.toContain("Coded on B");
    expect(health.text).not.toContain(B);
    for (const url of [`wss://${A}:3001/crdt-sync`, `wss://${B}:3002/crdt-sync`]) {
      expect(seen.sync[url], url).toMatchObject({ code: 4001, reason: "unknown key", syncFrames: 0 });
    }
  }
});
