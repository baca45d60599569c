import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { Cluster, getJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import type { PipelineView } from "../../src/server/operator-actions.js";

/** Screenshots land here so a person (and CI artifacts) can look at them. */
export const SCREENSHOTS = join(import.meta.dirname, "..", "..", "test-results", "screenshots");

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

const column = (page: Page, stage: string) => page.locator(`section.column[data-stage="${stage}"]`);

describe("the board", () => {
  it("is a live view: CLI stories appear, the form files stories, agent moves move cards, disconnects are shown and recovered", async () => {
    project = createProject({ projectToml: projectToml({ default_qa: "human" }), agentsToml: commandSlots(1) });
    let server = await cluster.server(project.root, ["--no-agent"]);
    const port = server.port;
    const env = { HUSKIES_SERVER: server.http };
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();

    await runCli(["story", "add", "Filed from the CLI", "--criterion", "shows up"], { env });
    await column(page, "backlog").getByText("Filed from the CLI").waitFor();

    await page.fill('input[name="name"]', "Filed from the board");
    await page.click('button[type="submit"]');
    await column(page, "backlog").getByText("Filed from the board").waitFor();
    const status = JSON.parse((await runCli(["status", "--json"], { env })).stdout) as PipelineView;
    expect(status.stages.backlog.map((i) => i.name)).toContain("Filed from the board");

    await cluster.agent(project.clone("agent"), server.ws);
    await page.locator("aside.nodes li").nth(1).waitFor();
    await runCli(["story", "add", "Worked by an agent", "--stage", "current"], { env });
    await column(page, "qa").getByText("Worked by an agent").waitFor({ timeout: 30_000 });

    // The story view shows criteria as ticks and moves the story.
    await page.getByText("Filed from the CLI").click();
    await page.getByRole("dialog").getByText("shows up").waitFor();
    await page.getByRole("dialog").locator("select").selectOption("current");
    await column(page, "current").getByText("Filed from the CLI").waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, "story-desktop.png") });
    await page.getByRole("button", { name: "close" }).click();
    await page.screenshot({ path: join(SCREENSHOTS, "board-desktop.png"), fullPage: true });

    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(server.http);
    await phone.getByText("Worked by an agent").waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await phone.screenshot({ path: join(SCREENSHOTS, "board-phone.png"), fullPage: true });

    await server.stop();
    await page.getByText("Not connected to the server").waitFor();
    await page.getByTestId("connection").filter({ hasText: "disconnected" }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, "board-disconnected.png") });
    server = await cluster.server(project.root, ["--no-agent", "--port", String(port)]);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor({ timeout: 30_000 });
    await runCli(["story", "add", "After the restart"], { env: { HUSKIES_SERVER: server.http } });
    // (The agent is back too, so auto-promotion may move it on: any column will do.)
    await page.locator("section.column").getByText("After the restart").waitFor();
    expect(await page.getByText("Not connected to the server").count()).toBe(0);
    const view = await getJson<PipelineView>(`${server.http}/api/pipeline`);
    expect(
      Object.values(view.stages)
        .flat()
        .map((i) => i.name),
    ).toContain("After the restart");
  });
});
