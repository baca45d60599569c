import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { DESKTOP, launchChromium, screenshot, screenshotOf } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/**
 * A coder that writes two files and commits, with the prompt it was given (`prompt.md`), so the
 * test reads on origin exactly what each attempt was told.
 */
const CODER = [
  "mkdir -p src",
  `printf 'export function greet(name) {\\n  return "Hello, " + name;\\n}\\n' > src/greet.js`,
  "printf 'one\\ntwo\\n' > notes.txt",
  'cp "$HUSKIES_PROMPT_FILE" prompt.md',
  "git add -A",
  'git commit -qm "attempt for $HUSKIES_STORY_ID"',
].join(" && ");

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

describe("review by the line", () => {
  it("three comments on lines of the diff, sent together, reach the coder's next prompt by file and line; human QA approves", async () => {
    project = createProject({ projectToml: projectToml({ default_qa: "human" }), agentsToml: commandSlots(1, CODER) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("agent"), server.ws, ["--label", "laptop"]);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Greet visitors", stage: "current" });
    const get = () => getJson<Item>(`${server.http}/api/stories/${story.id}`);
    const attempts = () =>
      git(project!.origin, "log", "--format=%s", `feature/story-${story.id}`)
        .split("\n")
        .filter((s) => s.startsWith("attempt for")).length;
    await waitFor(async () => (await get()).stage === "qa", "the first attempt to reach qa", 60_000);

    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.locator(`.card[data-id="${story.id}"]`).click();
    const dialog = page.getByRole("dialog");
    const greet = dialog.getByRole("table", { name: "diff of src/greet.js" });
    await greet.waitFor({ timeout: 30_000 });
    await dialog.getByRole("group", { name: "human QA" }).waitFor();

    const comment = async (file: string, line: number, text: string) => {
      await dialog.getByRole("button", { name: `comment on ${file} line ${line}`, exact: true }).click();
      await dialog.getByRole("textbox", { name: `comment on ${file}:${line}` }).fill(text);
      await dialog.getByRole("button", { name: "Add comment" }).click();
      await dialog.getByRole("note", { name: `your comment on ${file} line ${line}` }).waitFor();
    };
    await comment("src/greet.js", 1, "Export a default as well.");
    await comment("src/greet.js", 2, "Use a template literal.");
    await comment("notes.txt", 2, "Say three, not two.");
    await dialog.getByLabel("Review comment").fill("Tidy these up before it merges.");
    await screenshotOf(dialog, "line-review-desktop");
    // Nothing was sent yet: the comments are collected on the page.
    expect((await get()).stage).toBe("qa");
    const before = attempts();
    await dialog.getByRole("button", { name: "Send back to current with 3 line comments" }).click();
    await dialog.getByRole("status").filter({ hasText: "sent back to current with your 3 line comments" }).waitFor();

    // The next attempt's prompt lists them by file and line.
    await waitFor(() => attempts() > before, "the coder's next attempt on origin", 60_000);
    const prompt = git(project.origin, "show", `feature/story-${story.id}:prompt.md`);
    expect(prompt).toContain("## A reviewer sent your work back");
    expect(prompt).toContain("Tidy these up before it merges.");
    expect(prompt).toContain("### src/greet.js\n- src/greet.js:1: Export a default as well.\n- src/greet.js:2: Use a template literal.");
    expect(prompt).toContain("### notes.txt\n- notes.txt:2: Say three, not two.");
    expect(prompt).not.toContain("The previous attempt failed");

    // Back in qa (the review is cleared with the pass), a person approves: on to merge.
    const again = await waitFor(async () => ((await get()).stage === "qa" ? get() : undefined), "the rework to reach qa", 60_000);
    expect(again.review).toBeUndefined();
    await dialog.getByRole("group", { name: "human QA" }).getByRole("button", { name: "Approve" }).click();
    await waitFor(async () => (await get()).stage === "merge", "the approval to move the story to merge");
    // The story view follows: the QA bar is gone once the story left qa.
    await dialog
      .locator(".sub")
      .filter({ hasText: `${story.id} · merge` })
      .waitFor();
    expect(await dialog.getByRole("group", { name: "human QA" }).count()).toBe(0);
    await screenshot(page, "human-qa-approved-desktop");
  });
});
