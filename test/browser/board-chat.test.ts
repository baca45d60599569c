import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, getJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { ScriptedModelServer, type Script } from "../support/model-server.js";
import { DESKTOP, launchChromium, screenshot } from "../support/browser.js";
import { PERSON_SAYS } from "../../src/chat/assistant-prompt.js";
import type { Item } from "../../src/state/item.js";

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

const said = (prompt: string) => prompt.slice(prompt.lastIndexOf(PERSON_SAYS) + PERSON_SAYS.length).trim();

describe("the board's chat", () => {
  it("help and status answer without a model; a sentence makes the real claude file the story, whose card appears live; a delete waits for a click", async () => {
    const script: Script = ({ step, prompt }) => {
      const text = said(prompt);
      if (text === "file a story to add a health check")
        return step === 0
          ? {
              tool: {
                name: "mcp__huskies__create_story",
                input: { name: "Add a health check", acceptance_criteria: ["GET /healthz answers 200", "it is documented"] },
              },
            }
          : { text: "Filed **1_story_add_a_health_check** with two criteria." };
      if (text === "delete that story")
        return step === 0
          ? { tool: { name: "mcp__huskies__delete_story", input: { id: "1_story_add_a_health_check" } } }
          : { text: "Deleted it." };
      return { text: "I did not understand." };
    };
    model = await new ScriptedModelServer(script).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const server = await cluster.server(project.root, ["--no-agent"], model.env(configDir));

    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    await page.getByRole("button", { name: "open the chat" }).click();
    const chat = page.getByRole("complementary", { name: "chat" });
    await chat.getByTestId("chat-connection").filter({ hasText: "live" }).waitFor();
    const box = chat.getByRole("textbox", { name: "message" });
    const bot = chat.locator('li[data-role="bot"]');

    // Bot commands: answered at once, no model call.
    await box.fill("help");
    await box.press("Enter");
    await bot.filter({ hasText: "move ID STAGE" }).waitFor();
    await box.fill("status");
    await box.press("Enter");
    await bot.filter({ hasText: "Stages:" }).waitFor();
    expect(await bot.count()).toBe(2);
    expect(model.requests).toHaveLength(0);

    // A sentence: the real claude, through huskies' MCP tools, files the story; the card appears live.
    await box.fill("file a story to add a health check");
    await box.press("Enter");
    await page.locator('section.column[data-stage="backlog"]').getByText("Add a health check").waitFor({ timeout: 90_000 });
    const answer = chat.locator('li[data-role="assistant"]').last();
    await answer.locator('[data-tool="mcp__huskies__create_story"]').waitFor();
    await answer.getByText("with two criteria").waitFor({ timeout: 60_000 });
    expect(model.requests[0]!.body.tools!.map((t) => t.name)).toContain("mcp__huskies__create_story");
    const filed = await getJson<Item>(`${server.http}/api/stories/1_story_add_a_health_check`);
    expect(filed.body).toContain("- [ ] GET /healthz answers 200");

    // A destructive call waits for a person's click in the panel.
    await box.fill("delete that story");
    await box.press("Enter");
    const confirm = chat.getByRole("group", { name: "confirmation" });
    await confirm.getByText("delete 1_story_add_a_health_check").waitFor({ timeout: 90_000 });
    expect((await getJson<Item[]>(`${server.http}/api/stories`)).map((i) => i.id)).toEqual(["1_story_add_a_health_check"]);
    await screenshot(page, "board-chat-confirmation");
    await confirm.getByRole("button", { name: "confirm" }).click();
    await confirm.getByText("confirmed").waitFor();
    await page.locator('section.column[data-stage="backlog"]').getByText("Add a health check").waitFor({ state: "detached" });
    await chat.locator('li[data-role="assistant"]').last().getByText("Deleted it.").waitFor({ timeout: 60_000 });
    await screenshot(page, "board-chat");

    // The conversation is there after a reload (kept on the server).
    await page.reload();
    await page
      .getByRole("complementary", { name: "chat" })
      .locator('li[data-role="user"]')
      .filter({ hasText: "delete that story" })
      .waitFor();
  });
});
