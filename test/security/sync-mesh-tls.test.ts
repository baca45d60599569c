import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { selfSignedCert, type TestCert } from "../support/tls-cert.js";
import { waitFor } from "../support/wait-for.js";
import type { NodeEntry } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
let dir: string;
const certs: Record<string, TestCert> = {};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "huskies-mesh-tls-"));
  for (const name of ["b", "c", "d"]) certs[name] = selfSignedCert(dir, name);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

type Health = { nodeId: string; address: string; mesh: { connected: string[] } };
const health = async (port: number) => (await rawRequest(`https://127.0.0.1:${port}/health`)).json<Health>();

describe("mesh links over wss", () => {
  it("pin the certificate named in the peer's signed entry; an address that leads to another certificate is refused before any frame", async () => {
    project = createProject({ projectToml: projectToml({ max_mesh_peers: 3 }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const tlsArgs = (n: string) => ["--tls-cert", certs[n]!.cert, "--tls-key", certs[n]!.key];
    const b = await cluster.agent(project.clone("b"), server.ws, tlsArgs("b"));
    const c = await cluster.agent(project.clone("c"), server.ws, tlsArgs("c"));
    // D signs an entry whose address is B's listener: whoever dials "D" there meets B's certificate.
    const d = await cluster.agent(project.clone("d"), server.ws, [...tlsArgs("d"), "--advertise", `wss://127.0.0.1:${b.port}/crdt-sync`]);

    await waitFor(
      async () => (await health(b.port)).mesh.connected.includes(c.nodeId) && (await health(c.port)).mesh.connected.includes(b.nodeId),
      "B and C linked over wss",
    );
    const entries = (await rawRequest(`${server.http}/api/nodes`)).json<NodeEntry[]>();
    const entry = (id: string) => entries.find((n) => n.id === id)!;
    expect(entry(b.nodeId)).toMatchObject({ address: `wss://127.0.0.1:${b.port}/crdt-sync`, fingerprint: certs.b!.fingerprint });
    expect(entry(c.nodeId)).toMatchObject({ address: `wss://127.0.0.1:${c.port}/crdt-sync`, fingerprint: certs.c!.fingerprint });
    expect(entry(d.nodeId)).toMatchObject({ address: `wss://127.0.0.1:${b.port}/crdt-sync`, fingerprint: certs.d!.fingerprint });
    expect(c.logs.filter((l) => l.msg === "mesh link opened" && l.peer === b.nodeId.slice(0, 12))).toMatchObject([{ pinned: true }]);

    // Every agent that dials "D" at B's address sees B's certificate, not the one D's entry names.
    const refusal = `refusing wss://127.0.0.1:${b.port}/crdt-sync: the server's certificate fingerprint ${certs.b!.fingerprint} is not the pinned ${certs.d!.fingerprint}`;
    await waitFor(() => c.logs.some((l) => l.msg === refusal), "C to refuse the planted address");
    expect((await health(c.port)).mesh.connected).not.toContain(d.nodeId);
    // Refused for good: no redial while D's entry stays the same (several mesh scans later).
    const opened = () => c.logs.filter((l) => l.msg === "mesh link opened" && l.peer === d.nodeId.slice(0, 12)).length;
    const refusedAt = Date.now();
    await waitFor(
      async () =>
        (await rawRequest(`${server.http}/api/nodes`)).json<NodeEntry[]>().some((n) => n.id === c.nodeId && n.lastSeen > refusedAt + 3000),
      "three more of C's heartbeats (and mesh scans)",
    );
    expect(opened()).toBe(1);
  });
});
