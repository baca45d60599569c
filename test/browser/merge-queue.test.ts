import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { DESKTOP, launchChromium, overflowsSideways, PHONE, screenshot } from "../support/browser.js";
import { MERGEMASTER_ONLY, OVERLAPPING_CODER, SHARED_FILE, SHARED_START, slotsOf, stageOf } from "../support/landing-kit.js";
import { waitFor } from "../support/wait-for.js";
import type { Item, NodeEntry } from "../../src/state/item.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
  await cluster.stopAll();
  project?.cleanup();
});

interface QueueRow {
  id: string;
  position: number;
  step: string;
  name: string;
}

describe("the merge queue on the board (issue 29.3)", () => {
  it("shows each story's position and step: a conflict round waiting for its coder, one held behind it, then the queue empties as they land", async () => {
    project = createProject({
      projectToml: projectToml({ default_qa: "server", max_coders: 1 }),
      agentsToml: commandSlots(1, OVERLAPPING_CODER),
      files: { [SHARED_FILE]: SHARED_START },
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const coders = [
      await cluster.agent(project.clone("a"), server.ws, ["--label", "coder-a"]),
      await cluster.agent(project.clone("b"), server.ws, ["--label", "coder-b"]),
    ];
    // Three stories coded from the same base (no mergemaster yet): any two conflict in shared.txt.
    const s: Item[] = [];
    for (const name of ["First line", "Second line", "Third line"])
      s.push(await postJson<Item>(`${server.http}/api/stories`, { name, stage: "current" }));
    for (const x of s) expect((await stageOf(server, x.id, "merge", 120_000)).blocked).toBeNull();

    // The coders pause, so a conflict round waits for its author; then a mergemaster arrives.
    for (const c of coders) await postJson(`${server.http}/api/nodes/${c.nodeId}/pause`, { reason: "watching the queue" });
    await waitFor(
      async () => (await getJson<NodeEntry[]>(`${server.http}/api/nodes`)).filter((n) => n.paused).length === 2,
      "coders paused",
    );
    await cluster.agent(slotsOf(project.clone("m"), MERGEMASTER_ONLY), server.ws, ["--label", "merger"]);

    // One lands; the next goes back to its coder on round 1; the third waits behind it (it would
    // conflict again once that one lands).
    const queue = await waitFor(
      async () => {
        const q = await getJson<QueueRow[]>(`${server.http}/api/merge-queue`);
        return q.length === 2 && q[0]!.step.startsWith("conflict round 1") && q[1]!.step.startsWith("waiting: overlaps") ? q : undefined;
      },
      "a round out and one held behind it",
      120_000,
    );
    const [round, held] = queue as [QueueRow, QueueRow];
    expect(round.step).toBe("conflict round 1 (waiting for its coder)");
    expect(held.step).toBe(`waiting: overlaps ${round.id} on ${SHARED_FILE}`);
    const landed = s.find((x) => x.id !== round.id && x.id !== held.id)!;
    expect((await getJson<Item>(`${server.http}/api/stories/${landed.id}`)).stage).toBe("done");

    // The same queue over MCP.
    client = new Client({ name: "huskies-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.http}/mcp`)));
    const res = (await client.callTool({ name: "get_merge_queue", arguments: {} })) as { content: Array<{ text: string }> };
    expect((JSON.parse(res.content[0]!.text) as QueueRow[]).map((q) => [q.position, q.id, q.step])).toEqual(
      queue.map((q) => [q.position, q.id, q.step]),
    );

    // The board: the queue in order, each with its step.
    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    const panel = page.getByRole("region", { name: "merge queue" });
    const rows = panel.locator("li");
    await rows.nth(1).waitFor();
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).getAttribute("data-id")).toBe(round.id);
    expect(await rows.nth(0).locator(".position").textContent()).toBe("1");
    expect(await rows.nth(0).getByTestId("queue-step").textContent()).toBe("conflict round 1 (waiting for its coder)");
    expect(await rows.nth(1).getAttribute("data-id")).toBe(held.id);
    expect(await rows.nth(1).getByTestId("queue-step").textContent()).toBe(`waiting: overlaps ${round.id} on ${SHARED_FILE}`);
    // The held story's card says why it waits.
    const heldCard = page.locator(`section.column[data-stage="merge"] .card`).filter({ hasText: held.name });
    expect(await heldCard.getByTestId("stuck-hint").textContent()).toBe(`⚠ waits: overlaps ${round.id} on ${SHARED_FILE}`);
    await screenshot(page, "merge-queue-desktop");
    await page.setViewportSize(PHONE);
    expect(await overflowsSideways(page)).toBe(false);
    await screenshot(page, "merge-queue-phone");
    await page.setViewportSize(DESKTOP);

    // Every step the board showed from here on, as the coders come back and both land.
    await page.evaluate(() => {
      const seen = new Set<string>();
      (window as unknown as { stepsSeen: Set<string> }).stepsSeen = seen;
      const look = () => document.querySelectorAll('[data-testid="queue-step"]').forEach((e) => seen.add(e.textContent ?? ""));
      new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    for (const c of coders) await postJson(`${server.http}/api/nodes/${c.nodeId}/resume`, {});
    for (const x of [round, held]) expect((await stageOf(server, x.id, "done", 180_000)).blocked).toBeNull();
    await panel.getByText("nothing waiting to merge").waitFor();
    const seen = await page.evaluate(() => [...(window as unknown as { stepsSeen: Set<string> }).stepsSeen]);
    // The round, once its coder took it, showed as running on it.
    expect(seen).toContain("conflict round 1");
    const main = git(project.origin, "show", `main:${SHARED_FILE}`);
    expect(main.split("\n").sort()).toEqual(["# list", ...s.map((x) => `line ${x.id}`)].sort());
  }, 420_000);
});
