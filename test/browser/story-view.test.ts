import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { projectToml, claudeSlot } from "../support/coders.js";
import { firstPrompt, requestText, ScriptedModelServer, type RecordedRequest, type Script } from "../support/model-server.js";
import { DESKTOP, launchChromium, overflowsSideways, PHONE, screenshot, screenshotOf } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const COMMENT = "Please greet the reviewer, not the reader.";
const LINE_COMMENT = "Say reviewer here.";

/** The text of a request's last user message (huskies' prompt, or the tool results of the turn). */
function lastUserText(req: RecordedRequest): string {
  const last = (req.body.messages ?? []).filter((m) => m.role === "user").at(-1);
  if (!last) return "";
  return typeof last.content === "string" ? last.content : last.content.map((c) => c.text ?? "").join("\n");
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
let configDir: string | undefined;
afterEach(async () => {
  await cluster.stopAll();
  await model?.close();
  project?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe("the story view", () => {
  it("follows a real claude run live, shows the branch diff, ticks criteria, and a line review sends it back into the resumed session", async () => {
    // The first run stops before its last answer until the test has seen the board follow it.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The review reaches the resumed session as its newest message: the rework starts there.
    const script: Script = async ({ request, step }) => {
      const rework = requestText(request).includes(LINE_COMMENT);
      if (rework && lastUserText(request).includes(LINE_COMMENT))
        return {
          tool: {
            name: "Bash",
            input: { command: "echo 'hello, reviewer' > hello.txt && git commit -qam 'Greet the reviewer'", description: "Rework" },
          },
        };
      if (rework) return { text: "Reworked: hello.txt now greets the reviewer." };
      if (step === 0) {
        const command =
          "echo 'hello from claude' > hello.txt && printf '%s\\n' 'export const greet = (name) => `Hello, ${name}`;' > greet.js && git add -A && git commit -qm 'Add hello'";
        return { tool: { name: "Bash", input: { command, description: "Write hello.txt and commit it" } } };
      }
      await gate;
      return { text: "Done: hello.txt is committed and greets the reader." };
    };
    model = await new ScriptedModelServer(script).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    project = createProject({ projectToml: projectToml({ default_qa: "human" }, ["test -f hello.txt"]), agentsToml: claudeSlot() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("agent"), server.ws, ["--label", "laptop"], model.env(configDir));

    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    const story = await postJson<Item>(`${server.http}/api/stories`, {
      name: "Say hello",
      stage: "current",
      body: "As a visitor I want a greeting.",
      criteria: ["hello.txt greets the reader", "It is committed"],
    });
    await page.locator(`.card[data-id="${story.id}"]`).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: "Say hello" }).first().waitFor();

    // Live: the Bash command shows while the run is still going (the model holds its last answer).
    const bash = dialog.locator('.e-tool[data-tool="Bash"]').first();
    await bash.filter({ hasText: "echo 'hello from claude' > hello.txt && printf" }).waitFor({ timeout: 90_000 });
    expect(await dialog.getByText("Done: hello.txt is committed").count()).toBe(0);
    await dialog.getByTestId("log-follow").filter({ hasText: "live" }).waitFor();
    await screenshot(page, "timeline-live-desktop");
    release();
    await dialog.locator(".e-text").filter({ hasText: "Done: hello.txt is committed and greets the reader." }).waitFor({ timeout: 60_000 });
    await dialog
      .locator(".e-final.ok")
      .filter({ hasText: /✓ done · \d+ turns · \$[0-9.]+/ })
      .waitFor();

    // Human QA: the story waits in qa with its pushed branch; the diff shows what it changed.
    await page.locator('section.column[data-stage="qa"]').locator(`.card[data-id="${story.id}"]`).waitFor({ timeout: 60_000 });
    const files = dialog.getByRole("list", { name: "files changed" });
    await files.getByText("hello.txt").waitFor({ timeout: 30_000 });
    expect(await files.textContent()).toContain("+1");
    await dialog.getByRole("table", { name: "diff of hello.txt" }).getByText("hello from claude").waitFor();
    // Highlighted per language: the JavaScript file's keywords are marked up, the text file is plain.
    expect(await dialog.getByRole("table", { name: "diff of greet.js" }).locator(".hljs-keyword").first().textContent()).toBe("export");
    expect(await dialog.getByRole("table", { name: "diff of hello.txt" }).locator("[class^=hljs]").count()).toBe(0);

    // Criteria are markdown task items that stay clickable and tick through the REST API.
    await dialog.getByRole("checkbox", { name: "It is committed" }).check();
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${story.id}`)).body.includes("- [x] It is committed"),
      "the tick to reach the document",
    );
    expect(await dialog.getByRole("checkbox", { name: "hello.txt greets the reader" }).isChecked()).toBe(false);
    await dialog.locator(".diff").scrollIntoViewIfNeeded();
    await screenshot(page, "diff-desktop");
    await screenshotOf(dialog, "story-desktop-whole");

    // A review by the line sends the story back; the session that did the work continues with it.
    const before = model.requests.length;
    await dialog.getByRole("button", { name: "comment on hello.txt line 1", exact: true }).click();
    await dialog.getByRole("textbox", { name: "comment on hello.txt:1" }).fill(LINE_COMMENT);
    await dialog.getByRole("button", { name: "Add comment" }).click();
    await dialog.getByLabel("Review comment").fill(COMMENT);
    await dialog.getByRole("button", { name: "Send back to current with 1 line comment" }).click();
    await dialog.getByRole("status").filter({ hasText: "sent back to current" }).waitFor();
    const nextRun = await waitFor(
      () => model!.requests.slice(before).find((r) => lastUserText(r).includes(LINE_COMMENT)),
      "the coder's next run",
      90_000,
    );
    expect(lastUserText(nextRun)).toContain(`- hello.txt:1: ${LINE_COMMENT}`);
    expect(lastUserText(nextRun)).toContain(COMMENT);
    // Resumed: the same conversation, the first prompt and the earlier work still in it.
    expect(firstPrompt(nextRun)).toContain(`working on story ${story.id}`);
    expect(JSON.stringify(nextRun.body.messages)).toContain("Add hello");
    await dialog.locator(".e-text").filter({ hasText: "Reworked: hello.txt now greets the reviewer." }).waitFor({ timeout: 60_000 });
    expect(await dialog.locator("details.run").count()).toBeGreaterThanOrEqual(2);
    await screenshot(page, "timeline-rework-desktop");

    // The same view on a phone: the timeline and the diff fit the width.
    await page.locator('section.column[data-stage="qa"]').locator(`.card[data-id="${story.id}"]`).waitFor({ timeout: 60_000 });
    expect(git(project.origin, "show", `feature/story-${story.id}:hello.txt`)).toBe("hello, reviewer");
    const phone = await browser.newPage({ viewport: PHONE, isMobile: true });
    await phone.goto(server.http);
    await phone.locator(`.card[data-id="${story.id}"]`).click();
    const small = phone.getByRole("dialog");
    await small.locator(".e-text").filter({ hasText: "Reworked:" }).waitFor();
    await small.getByRole("table", { name: "diff of hello.txt" }).getByText("hello, reviewer").waitFor();
    expect(await overflowsSideways(phone)).toBe(false);
    await screenshot(phone, "story-phone");
    await screenshotOf(small, "story-phone-whole");
  }, 240_000);
});
