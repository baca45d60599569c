import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml, sandboxReads } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { DESKTOP, launchChromium, overflowsSideways, PHONE, screenshot } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

let browser: Browser;
let dir: string;
beforeAll(async () => {
  browser = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), "huskies-gw-page-"));
});
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

const cluster = new Cluster();
const projects: Project[] = [];
afterEach(async () => {
  await cluster.stopAll();
  for (const p of projects.splice(0)) p.cleanup();
});

const GW_ADMIN = "gateway-page-admin";

describe("the gateway page", () => {
  it("shows every project's stages, blocked and running stories and nodes, updates by itself, needs the admin token off loopback", async () => {
    // Project alpha: a server and an agent whose coder works until the test lets it finish.
    const release = join(dir, "release");
    const waitingCoder = commandSlots(
      1,
      `while [ ! -f ${JSON.stringify(release)} ]; do sleep 0.2; done; echo ok > done.txt && git add -A && git commit -qm done`,
    );
    // The coder runs confined (a private /tmp): it may read the test's directory for the signal.
    const alpha = createProject({ projectToml: projectToml({ auto_promote: false }) + sandboxReads(dir), agentsToml: waitingCoder });
    const beta = createProject({ projectToml: projectToml({}) });
    projects.push(alpha, beta);
    const alphaServer = await cluster.server(alpha.root, ["--no-agent"]);
    const betaServer = await cluster.server(beta.root, ["--no-agent"]);
    const agent = await cluster.agent(alpha.clone("laptop"), alphaServer.ws, ["--label", "laptop"]);
    const running = await postJson<Item>(`${alphaServer.http}/api/stories`, { name: "Add login", stage: "current" });
    const stuck = await postJson<Item>(`${alphaServer.http}/api/stories`, { name: "Flaky deploy" });
    await postJson(`${alphaServer.http}/api/stories/${stuck.id}/block`, { reason: "needs a person" });
    await postJson(`${betaServer.http}/api/stories`, { name: "Beta idea" });

    const config = join(dir, "projects.toml");
    writeFileSync(
      config,
      `[[project]]\nname = "alpha"\nurl = "${alphaServer.http}"\n\n[[project]]\nname = "beta"\nurl = "${betaServer.http}"\n`,
    );
    const gw = await cluster.gateway(["--config", config, "--host", "0.0.0.0"], { HUSKIES_ADMIN_TOKEN: GW_ADMIN });
    const base = `http://127.0.0.1:${gw.port}`;

    // The request guard applies to the page too; its data needs the admin token off loopback.
    expect((await rawRequest(`${base}/`, { headers: { host: "rebind.example" } })).status).toBe(421);
    expect((await rawRequest(`${base}/gateway/overview`)).status).toBe(401);
    const locked = await browser.newPage({ viewport: DESKTOP });
    await locked.goto(`${base}/`);
    await locked.getByText("this gateway needs its admin token").waitFor();
    await locked.close();

    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(`${base}/?token=${GW_ADMIN}`);
    const alphaCard = page.locator('section[data-project="alpha"]');
    const betaCard = page.locator('section[data-project="beta"]');
    await alphaCard.locator("tr", { hasText: "laptop" }).filter({ hasText: "Add login" }).waitFor({ timeout: 30_000 });
    expect(await alphaCard.locator('[data-stage="current"] b').textContent()).toBe("1");
    expect(await alphaCard.locator('[data-stage="backlog"] b').textContent()).toBe("1");
    expect(await alphaCard.textContent()).toContain(`Flaky deploy (${stuck.id}): needs a person`);
    expect(await alphaCard.textContent()).toContain(`Add login — current on laptop`);
    expect(await alphaCard.locator("tr", { hasText: "laptop" }).textContent()).toMatch(/alive, \d+ s ago/);
    expect(await betaCard.locator('[data-stage="backlog"] b').textContent()).toBe("1");
    expect(await alphaCard.locator("h2 a").getAttribute("href")).toBe(`${alphaServer.http}/`);
    expect(await betaCard.locator("h2 a").getAttribute("href")).toBe(`${betaServer.http}/`);

    // It updates by itself: a new story and a pause show within 2 s.
    const filed = Date.now();
    await postJson(`${betaServer.http}/api/stories`, { name: "Beta second idea" });
    await betaCard.locator('[data-stage="backlog"] b', { hasText: "2" }).waitFor({ timeout: 2000 });
    expect(Date.now() - filed).toBeLessThan(2000);
    await postJson(`${alphaServer.http}/api/nodes/${agent.nodeId}/pause`, { reason: "lunch" });
    await alphaCard.locator("tr", { hasText: "laptop" }).filter({ hasText: "paused: lunch" }).waitFor({ timeout: 10_000 });
    await screenshot(page, "gateway-page-desktop", true);

    await page.setViewportSize(PHONE);
    await betaCard.waitFor();
    expect(await overflowsSideways(page)).toBe(false);
    await screenshot(page, "gateway-page-phone", true);
    await page.close();
    writeFileSync(release, "");
    await waitFor(
      async () => (await rawRequest(`${alphaServer.http}/api/stories/${running.id}`)).json<Item>().stage !== "current",
      "the coder to finish",
    );
  });
});
