import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { issueCertificate, verifyCertificate } from "../../src/trust/admission.js";

const ADMIN = "admission-expiry-admin-token";
const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

describe("admissions (issue 27)", () => {
  it("a certificate from an open-mode session is refused after the server restarts with auth = required", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    let server = await cluster.server(project.root, ["--no-agent"]);
    const port = server.port;
    const rootX = project.clone("x");
    let x = await cluster.agent(rootX, server.ws);
    await waitFor(async () => (await x.health()).rendezvous.connected, "x linked to the open server");
    const certFile = join(rootX, ".huskies", "admission.json");
    await waitFor(() => {
      try {
        return (JSON.parse(readFileSync(certFile, "utf8")) as { open?: boolean }).open === true;
      } catch {
        return false;
      }
    }, "x to keep the open-mode certificate it was given");
    await x.stop();
    await server.stop();

    const file = join(project.root, ".huskies", "project.toml");
    writeFileSync(file, `auth = "required"\n${readFileSync(file, "utf8")}`);
    server = await cluster.server(project.root, ["--no-agent", "--port", String(port)], { HUSKIES_ADMIN_TOKEN: ADMIN });
    x = await cluster.agent(rootX, server.ws);
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && l.reason === "unknown key"),
      "the rendezvous to refuse x's open-mode certificate",
    );
    expect((await x.health()).rendezvous.connected).toBe(false);
  });

  it("a certificate lapses admission_ttl after it was issued; connecting renews it (a fresh one each time)", () => {
    const rendezvous = ephemeralIdentity();
    const node = ephemeralIdentity().nodeId;
    const day = 86_400_000;
    const cert = issueCertificate(rendezvous, node, 1000);
    const expect_ = { node, issuer: rendezvous.nodeId, ttlMs: 30 * day };
    expect(verifyCertificate(cert, { ...expect_, now: 1000 + 29 * day })).toBe(true);
    expect(verifyCertificate(cert, { ...expect_, now: 1000 + 31 * day })).toBe(false);
    expect(verifyCertificate(issueCertificate(rendezvous, node, 1000 + 30 * day), { ...expect_, now: 1000 + 31 * day })).toBe(true);
    // An open-mode certificate admits only where open ones are accepted.
    const open = issueCertificate(rendezvous, node, 1000, true);
    expect(verifyCertificate(open, { node, issuer: rendezvous.nodeId })).toBe(false);
    expect(verifyCertificate(open, { node, issuer: rendezvous.nodeId, acceptOpen: true })).toBe(true);
    expect(verifyCertificate({ ...open, open: undefined }, { node, issuer: rendezvous.nodeId, acceptOpen: true })).toBe(false);
  });
});
