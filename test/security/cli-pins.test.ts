import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createNetServer, connect as netConnect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, runCli } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { selfSignedCert } from "../support/tls-cert.js";
import { pinnedRequest } from "../../src/trust/pinned-request.js";

const ADMIN = "cli-pins-admin-token";
const cluster = new Cluster();
let project: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  cleanups.splice(0).forEach((c) => c());
  await cluster.stopAll();
  project?.cleanup();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

describe("every CLI request that carries a token is pinned (issue 27)", () => {
  it("`story log --follow` through a man in the middle sends no token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "huskies-cli-pins-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const real = selfSignedCert(dir, "server");
    const fake = selfSignedCert(dir, "mitm");
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(0) });
    const server = await cluster.server(project.root, ["--no-agent", "--tls-cert", real.cert, "--tls-key", real.key], {
      HUSKIES_ADMIN_TOKEN: ADMIN,
    });
    const story = await pinnedRequest<{ id: string }>(`https://127.0.0.1:${server.port}/api/stories`, {
      method: "POST",
      body: { name: "Followed" },
      headers: { authorization: `Bearer ${ADMIN}` },
      fingerprint: real.fingerprint,
    });

    // The first connection passes through to the real server untouched; every later one is
    // answered by the man in the middle, with a certificate this machine's CAs trust.
    const recorded: Buffer[] = [];
    const mitmTls = createTlsServer({ cert: readFileSync(fake.cert), key: readFileSync(fake.key) }, (s) => {
      s.on("data", (d: Buffer) => recorded.push(d));
      s.on("error", () => undefined);
    });
    let connections = 0;
    const front = createNetServer((socket) => {
      socket.on("error", () => undefined);
      if (++connections === 1) {
        const back = netConnect(server.port, "127.0.0.1");
        back.on("error", () => socket.destroy());
        socket.pipe(back).pipe(socket);
      } else mitmTls.emit("connection", socket);
    });
    const port = await listen(front);
    cleanups.push(() => front.close());

    const res = await runCli(["story", "log", story.body.id, "--follow", "--server", `https://127.0.0.1:${port}`], {
      env: { HUSKIES_SERVER_CERT: real.cert, HUSKIES_ADMIN_TOKEN: ADMIN, NODE_EXTRA_CA_CERTS: fake.cert },
    });
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/fingerprint/);
    expect(Buffer.concat(recorded).includes(Buffer.from(ADMIN))).toBe(false);
  });

  it("a certificate pin with an http:// server is an error, and nothing is sent", async () => {
    const received: Buffer[] = [];
    const plain = createNetServer((s) => s.on("data", (d: Buffer) => received.push(d)));
    const port = await listen(plain);
    cleanups.push(() => plain.close());
    const res = await runCli(["story", "list", "--server", `http://127.0.0.1:${port}`], {
      env: { HUSKIES_SERVER_FINGERPRINT: "ab".repeat(32), HUSKIES_ADMIN_TOKEN: ADMIN },
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/needs an https:\/\/ server/);
    expect(received).toEqual([]);
  });
});
