import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Cluster, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { DESKTOP, launchChromium, overflowsSideways, PHONE, screenshot } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";
import { VERSION } from "../../src/version.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await cluster.stopAll();
  project?.cleanup();
});

const GPU_BOX = "f00d".repeat(16);

/**
 * Another machine's node entry, written through a stock y-websocket client (the document is the
 * public contract): a coder node paused by a usage limit for 20 minutes, heartbeating while the
 * test runs. Its lastSeen is refreshed by an interval, a heartbeat like a real node's, not a wait.
 */
async function pausedCoderNode(ws: string): Promise<void> {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(ws.replace(/\/crdt-sync$/, ""), "crdt-sync", doc, {
    WebSocketPolyfill: WebSocket as never,
    disableBc: true,
  });
  await waitFor(() => provider.synced, "the stock client to sync");
  const now = Date.now();
  const entry = new Y.Map<unknown>();
  doc.transact(() => {
    doc.getMap("nodes").set(GPU_BOX, entry);
    for (const [k, v] of Object.entries({
      label: "gpu-box",
      role: "agent",
      address: "ws://127.0.0.1:9/crdt-sync",
      lastSeen: now,
      alive: true,
      startedAt: now - 3_600_000,
      capacity: { coder: 2, qa: 0, mergemaster: 0 },
      // An older release than the server's own: the board marks the node as behind.
      version: "0.0.9",
      paused: { reason: "usage limit (429)", since: now - 60_000, until: now + 20 * 60_000 },
    }))
      entry.set(k, v);
  });
  const beat = setInterval(() => entry.set("lastSeen", Date.now()), 1000);
  cleanups.push(() => {
    clearInterval(beat);
    provider.destroy();
  });
}

describe("nodes and stuck stories", () => {
  it("show slots, heartbeat, pause state with time left, pause and resume buttons, and why nothing takes a story", async () => {
    project = createProject({ projectToml: projectToml({ default_qa: "agent" }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await pausedCoderNode(server.ws);
    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();

    // The paused node: slots, heartbeat, reason and time left.
    const gpu = page.getByRole("listitem", { name: "node gpu-box" });
    await gpu
      .getByRole("status")
      .filter({ hasText: /paused: usage limit \(429\) · resumes in (19|20)m/ })
      .waitFor();
    expect(await gpu.textContent()).toMatch(/slots: coder 2/);
    expect(await gpu.textContent()).toMatch(/heartbeat \d+s ago/);
    await gpu
      .getByRole("note")
      .filter({ hasText: `behind: 0.0.9 < ${VERSION}` })
      .waitFor();
    const serverRow = page.getByRole("listitem", { name: /^node server-/ });
    expect(await serverRow.textContent()).toContain("no agent slots");

    // Stories nothing can take say why: every coder node is paused; QA by agent with no QA slot.
    const coding = await postJson<Item>(`${server.http}/api/stories`, { name: "Needs a coder", stage: "current" });
    const qa = await postJson<Item>(`${server.http}/api/stories`, { name: "Needs a QA agent", stage: "current", qa: "agent" });
    await postJson(`${server.http}/api/stories/${qa.id}/move`, { stage: "qa" });
    const card = (id: string) => page.locator(`.card[data-id="${id}"]`);
    await card(coding.id)
      .getByTestId("stuck-hint")
      .filter({ hasText: "every live node with a coder slot is paused (gpu-box: usage limit (429), resumes in" })
      .waitFor();
    await card(qa.id).getByTestId("stuck-hint").filter({ hasText: 'no node has a QA slot: add an [[agent]] with role = "qa"' }).waitFor();
    expect(await card(coding.id).textContent()).toMatch(/\d+s in current/);
    await screenshot(page, "nodes-and-stuck-desktop");

    // Pause through the real REST route: the form asks for a reason, the node's entry gets the
    // pause, and the board shows it; resume clears it.
    await serverRow.getByRole("button", { name: /^pause server-/ }).click();
    await serverRow.getByLabel("reason").fill("deploying a new version");
    await screenshot(page, "pause-form-desktop");
    const pauseCall = page.waitForRequest((r) => r.url().endsWith(`/api/nodes/${server.nodeId}/pause`));
    await serverRow.getByRole("button", { name: "pause node" }).click();
    expect((await pauseCall).postDataJSON()).toEqual({ reason: "deploying a new version" });
    await serverRow.getByRole("status").filter({ hasText: "paused: deploying a new version · until resumed" }).waitFor();
    await screenshot(page, "node-paused-desktop");
    await serverRow.getByRole("button", { name: /^resume server-/ }).click();
    await serverRow.getByRole("button", { name: /^pause server-/ }).waitFor();
    expect(await serverRow.getByRole("status").count()).toBe(0);

    // The story view repeats the hint; the phone layout fits.
    await card(qa.id).click();
    await page.getByRole("dialog").getByRole("status").filter({ hasText: "no node has a QA slot" }).waitFor();
    const phone = await browser.newPage({ viewport: PHONE, isMobile: true });
    await phone.goto(server.http);
    await phone
      .getByRole("listitem", { name: "node gpu-box" })
      .getByText(/paused: usage limit/)
      .waitFor();
    await phone.locator(`.card[data-id="${coding.id}"]`).getByTestId("stuck-hint").waitFor();
    expect(await overflowsSideways(phone)).toBe(false);
    await screenshot(phone, "nodes-and-stuck-phone", true);
  });
});
