import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DESKTOP, launchChromium, screenshot } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/** A coder that keeps its story (a long run): its node holds the claim while the test looks. */
const HOLD = "exec sleep 3600";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

const column = (page: Page, stage: string) => page.locator(`section.column[data-stage="${stage}"]`);
const card = (page: Page, id: string) => page.locator(`.card[data-id="${id}"]`);

describe("finding and moving stories on the board", () => {
  it("searches by a word of the name or body, filters by holder, keeps the view in the URL, and moves cards by drag and by keyboard", async () => {
    project = createProject({ projectToml: projectToml({ default_qa: "human", auto_promote: false }), agentsToml: commandSlots(1, HOLD) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const laptop = await cluster.agent(project.clone("laptop"), server.ws, ["--label", "laptop"]);
    const desktop = await cluster.agent(project.clone("desktop"), server.ws, ["--label", "desktop"]);
    const story = (body: Record<string, unknown>) => postJson<Item>(`${server.http}/api/stories`, body);
    const get = (id: string) => getJson<Item>(`${server.http}/api/stories/${id}`);
    const claimedBy = async (id: string) => waitFor(async () => (await get(id)).claim?.node, `a claim on ${id}`, 30_000);

    // Two nodes each hold one story (their one slot is busy with it).
    const first = await story({ name: "Rotate the signing keys", stage: "current" });
    const firstHolder = await claimedBy(first.id);
    const second = await story({ name: "Rotate the log files", stage: "current" });
    const secondHolder = await claimedBy(second.id);
    expect(new Set([firstHolder, secondHolder])).toEqual(new Set([laptop.nodeId, desktop.nodeId]));
    const onLaptop = firstHolder === laptop.nodeId ? first : second;
    const onDesktop = onLaptop === first ? second : first;
    const zebra = await story({ name: "Zebra crossing lights" });
    const parrot = await story({ name: "Parrot feeder", body: "The feeder needs a giraffe-proof lid.\n" });
    const otter = await story({ name: "Otter pond" });

    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    await card(page, otter.id).waitFor();

    // Search: a word of the name, then a word only the body has; the URL says what is shown.
    const search = page.getByRole("searchbox", { name: "search stories" });
    await search.fill("zebra");
    await column(page, "backlog").getByTestId("count-backlog").filter({ hasText: "1 of 3" }).waitFor();
    expect(await page.locator(".card").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id))).toEqual([zebra.id]);
    expect(new URL(page.url()).searchParams.get("q")).toBe("zebra");
    await search.fill("giraffe");
    await card(page, parrot.id).waitFor();
    expect(await page.locator(".card").count()).toBe(1);
    await search.fill("");

    // Holder: only that node's stories; the link opens the same view.
    await page.getByRole("combobox", { name: "holder" }).selectOption({ label: "laptop" });
    await card(page, onDesktop.id).waitFor({ state: "detached" });
    expect(await page.locator(".card").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id))).toEqual([onLaptop.id]);
    expect(new URL(page.url()).searchParams.get("holder")).toBe(laptop.nodeId);
    await screenshot(page, "board-filter-holder-desktop");
    const shared = await browser.newPage({ viewport: DESKTOP });
    await shared.goto(page.url());
    await card(shared, onLaptop.id).waitFor();
    await shared.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    expect(await shared.locator(".card").count()).toBe(1);
    expect(await shared.getByRole("combobox", { name: "holder" }).inputValue()).toBe(laptop.nodeId);
    await shared.close();
    await page.getByRole("button", { name: "clear" }).click();
    await card(page, otter.id).waitFor();

    // Drag from backlog to current: the same checked move as the menu.
    await card(page, zebra.id).dragTo(column(page, "current"));
    await column(page, "current").locator(`.card[data-id="${zebra.id}"]`).waitFor();
    await waitFor(async () => (await get(zebra.id)).stage === "current", "the drag's move to reach the document");

    // A refused move snaps back and says why (backlog → done is not a transition).
    await card(page, parrot.id).dragTo(column(page, "done"));
    const refused = page.getByTestId("refused-move");
    await refused.filter({ hasText: "Could not move “Parrot feeder” to done" }).waitFor();
    expect(await refused.textContent()).toContain("no transition from backlog to done");
    await column(page, "backlog").locator(`.card[data-id="${parrot.id}"]`).waitFor();
    expect(await column(page, "done").locator(".card").count()).toBe(0);
    expect((await get(parrot.id)).stage).toBe("backlog");
    await screenshot(page, "board-refused-move-desktop");
    await refused.getByRole("button", { name: "dismiss" }).click();

    // The keyboard: Space picks the card up, → chooses the next column, Space drops it there.
    await card(page, otter.id).focus();
    await page.keyboard.press("Space");
    await page.getByTestId("move-announcer").filter({ hasText: "Picked up “Otter pond” in backlog" }).waitFor();
    expect(await page.getByRole("dialog").count()).toBe(0);
    await page.keyboard.press("ArrowRight");
    await column(page, "current").and(page.locator(".drop-target")).waitFor();
    await page.keyboard.press("Space");
    await column(page, "current").locator(`.card[data-id="${otter.id}"]`).waitFor();
    await waitFor(async () => (await get(otter.id)).stage === "current", "the keyboard move to reach the document");
    await page.getByTestId("move-announcer").filter({ hasText: "Moved “Otter pond” to current." }).waitFor();
    // Escape puts a picked-up card down where it was; Enter still opens the story.
    await card(page, parrot.id).focus();
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Escape");
    await page.getByTestId("move-announcer").filter({ hasText: "Move cancelled" }).waitFor();
    expect((await get(parrot.id)).stage).toBe("backlog");
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").getByRole("heading", { name: "Parrot feeder" }).waitFor();
    expect(new URL(page.url()).searchParams.get("story")).toBe(parrot.id);
  });
});
