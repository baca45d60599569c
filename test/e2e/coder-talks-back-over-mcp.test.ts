import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { claudeSlot, projectToml } from "../support/coders.js";
import { requestText, ScriptedModelServer, type RecordedRequest, type Script } from "../support/model-server.js";
import { DESKTOP, launchChromium, screenshot } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const QUESTION = "Which port should /healthz listen on?";
const ANSWER = "Use 8081, the ops port.";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
let model: ScriptedModelServer | undefined;
let hook: Server | undefined;
let configDir: string | undefined;
afterEach(async () => {
  await cluster.stopAll();
  await model?.close();
  await new Promise((r) => (hook ? hook.close(r) : r(undefined)));
  project?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

const toolUses = (r: RecordedRequest) =>
  (r.body.messages ?? []).flatMap((m) => (typeof m.content === "string" ? [] : m.content.filter((c) => c.type === "tool_use")));

describe("a coder talks back through its MCP channel", () => {
  it("the real claude ticks its criterion, reports progress and asks a person; the board shows them; the answer resumes the same session; another story is refused", async () => {
    let other = "";
    const tool = (name: string, input: Record<string, unknown>) => ({ tool: { name: `mcp__huskies__${name}`, input } });
    const script: Script = ({ step }) => {
      switch (step) {
        case 0:
          return tool("tick_criterion", { index: 0 });
        case 1:
          return tool("tick_criterion", { id: other, index: 0 });
        case 2:
          return tool("report_progress", { text: "endpoint written; asking which port" });
        case 3:
          return tool("ask_human", { question: QUESTION });
        case 4:
          return { text: "Asked a person; waiting for the answer." };
        case 5:
          return {
            tool: {
              name: "Bash",
              input: {
                command: "echo 8081 > health.txt && git add health.txt && git commit -qm 'Health check on 8081'",
                description: "commit",
              },
            },
          };
        case 6:
          return tool("tick_criterion", { index: 1 });
        default:
          return { text: "Done: /healthz on 8081." };
      }
    };
    model = await new ScriptedModelServer(script).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    // A webhook receiver for the `question` event.
    const notified: Array<Record<string, unknown>> = [];
    hook = createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        notified.push(JSON.parse(raw) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook!.listen(0, "127.0.0.1", () => r()));
    const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    project = createProject({
      projectToml:
        projectToml({ default_qa: "human", auto_promote: false }, ["test -f health.txt"]) +
        `\n[[notify]]\nurl = "${hookUrl}"\nevents = ["question"]\n`,
      agentsToml: claudeSlot({ maxTurns: 12 }),
    });
    const server = await cluster.server(project.root, ["--no-agent"]);
    other = (await postJson<Item>(`${server.http}/api/stories`, { name: "Someone else's", criteria: ["untouched"] })).id;
    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();

    await cluster.agent(project.clone("agent"), server.ws, ["--label", "laptop"], model.env(configDir));
    const s = await postJson<Item>(`${server.http}/api/stories`, {
      name: "Health check",
      stage: "current",
      criteria: ["GET /healthz answers 200", "it listens on the agreed port"],
    });
    const item = () => getJson<Item>(`${server.http}/api/stories/${s.id}`);

    // The question waits on the board (card and story view) with the tick and the progress line.
    const card = page.locator(`.card[data-id="${s.id}"]`);
    await card.getByTestId("card-question").filter({ hasText: QUESTION }).waitFor({ timeout: 90_000 });
    await card.getByTestId("card-progress").filter({ hasText: "endpoint written; asking which port" }).waitFor();
    const asked = await item();
    expect(asked.question).toMatchObject({ text: QUESTION, slot: "claude-1", sessionId: expect.any(String) });
    expect(asked.body).toContain("- [x] GET /healthz answers 200");
    expect(asked.claim).not.toBeNull(); // the story waits, held, in current
    await card.click();
    const dialog = page.getByRole("dialog");
    await dialog.getByTestId("question").filter({ hasText: QUESTION }).waitFor();
    expect(await dialog.locator('input[data-criterion="0"]').isChecked()).toBe(true);
    expect(await dialog.locator('input[data-criterion="1"]').isChecked()).toBe(false);
    await screenshot(page, "coder-asks-a-person");

    // Another story's id is refused, and that story is untouched.
    const refusedAt = model.requests.findIndex((r) => requestText(r).includes("refused: this session works on"));
    expect(refusedAt).toBeGreaterThan(0);
    expect(requestText(model.requests[refusedAt]!)).toContain(`refused: this session works on ${s.id} only, not ${other}`);
    expect((await getJson<Item>(`${server.http}/api/stories/${other}`)).body).toContain("- [ ] untouched");
    // The [[notify]] webhook heard the question.
    await waitFor(() => notified.find((n) => n.event === "question"), "the question webhook");
    expect(notified.find((n) => n.event === "question")).toMatchObject({ story: s.id, reason: QUESTION });

    // The CLI says so too; answering a story that asked nothing is refused.
    const status = await runCli(["status"], { env: { HUSKIES_SERVER: server.http } });
    expect(status.stdout).toContain(`NEEDS A PERSON: ${QUESTION}`);
    const wrong = await runCli(["story", "answer", other, "8081"], { env: { HUSKIES_SERVER: server.http } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`${other} has no open question`);

    // A person answers on the board; the same session continues with the answer and finishes.
    const requestsBefore = model.requests.length;
    await dialog.getByRole("textbox", { name: "your answer" }).fill(ANSWER);
    await dialog.getByRole("button", { name: "answer", exact: true }).click();
    const done = await waitFor(
      async () => {
        const i = await item();
        return i.stage === "qa" ? i : undefined;
      },
      "the resumed session to finish the story",
      90_000,
      250,
    );
    expect(done.body).toContain("- [x] it listens on the agreed port");
    expect(done.question).toBeUndefined();
    const resumed = model.requests[requestsBefore]!;
    expect(requestText(resumed)).toContain(ANSWER);
    // The resumed request carries the first session's conversation: its ask_human call is in it.
    expect(toolUses(resumed).map((t) => (t as { name?: string }).name)).toContain("mcp__huskies__ask_human");
    const log = await (await fetch(`${server.http}/api/stories/${s.id}/log`)).text();
    expect(log).toContain(`resuming session ${asked.question!.sessionId}`);
    expect(log).toContain(`a person answered: ${ANSWER}`);
  });
});
