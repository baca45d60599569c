import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { chromium } from "playwright-core";
import { Cluster, getJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { ScriptedModelServer } from "../support/model-server.js";
import { findClaude } from "../../src/runtime/claude-code-runtime.js";
import type { Item } from "../../src/state/item.js";

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

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("Claude Code drives huskies through MCP", () => {
  it("the real claude, configured by the .mcp.json huskies init wrote, files a story that appears on the board", async () => {
    const port = await freePort();
    project = createProject({ projectToml: `port = ${port}\n` + projectToml({ auto_promote: false }) });
    // The .mcp.json `huskies init` wrote, pointed at this project's port.
    const mcpJson = join(project.root, ".mcp.json");
    writeFileSync(mcpJson, readFileSync(mcpJson, "utf8").replace("3001", String(port)));
    expect(JSON.parse(readFileSync(mcpJson, "utf8"))).toEqual({
      mcpServers: { huskies: { type: "http", url: `http://127.0.0.1:${port}/mcp` } },
    });
    const server = await cluster.server(project.root, ["--no-agent", "--port", String(port)]);

    model = await new ScriptedModelServer(({ step }) =>
      step === 0
        ? {
            tool: {
              name: "mcp__huskies__create_story",
              input: {
                name: "Filed by Claude",
                user_story: "As a lead I want Claude to file work.",
                acceptance_criteria: ["it is on the board"],
              },
            },
          }
        : { text: "Filed." },
    ).start();
    configDir = mkdtempSync(join(tmpdir(), "huskies-claude-config-"));
    const env: Record<string, string | undefined> = { ...process.env, ...model.env(configDir) };
    delete env.CLAUDECODE;
    // Connect the MCP servers before the first request (claude 2.1 may not wait for them on a busy machine).
    env.MCP_CONNECTION_NONBLOCKING = "0";
    const run = await promisify(execFile)(
      findClaude(),
      [
        "-p",
        "File a story for the login work.",
        "--output-format",
        "stream-json",
        "--verbose",
        "--max-turns",
        "3",
        "--mcp-config",
        mcpJson,
        "--strict-mcp-config",
        "--allowedTools",
        "mcp__huskies__create_story",
      ],
      { cwd: project.root, env, timeout: 90_000 },
    );
    const result = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "result");
    expect(result).toMatchObject({ subtype: "success", is_error: false });
    expect(model.requests[0]!.body.tools!.map((t) => t.name)).toContain("mcp__huskies__create_story");

    const items = await getJson<Item[]>(`${server.http}/api/stories`);
    expect(items.map((i) => i.name)).toEqual(["Filed by Claude"]);
    expect(items[0]!.body).toContain("- [ ] it is on the board");

    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(server.http);
      await page.locator('section.column[data-stage="backlog"]').getByText("Filed by Claude").waitFor();
    } finally {
      await browser.close();
    }
  });
});
