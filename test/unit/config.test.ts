import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadProjectConfig } from "../../src/config/project-config.js";
import { loadAgentsConfig } from "../../src/config/agents-config.js";
import { LiveConfig } from "../../src/config/live-config.js";
import { waitFor } from "../support/wait-for.js";

const dirs: string[] = [];
function project(projectToml: string, agentsToml = ""): string {
  const root = mkdtempSync(join(tmpdir(), "huskies-config-"));
  dirs.push(root);
  mkdirSync(join(root, ".huskies"));
  writeFileSync(join(root, ".huskies", "project.toml"), projectToml);
  writeFileSync(join(root, ".huskies", "agents.toml"), agentsToml);
  return root;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("project config", () => {
  it("fills defaults", () => {
    const cfg = loadProjectConfig(project(""));
    expect(cfg).toMatchObject({
      port: 3001,
      default_qa: "server",
      max_coders: 3,
      claim_timeout_secs: 1800,
      max_mesh_peers: 3,
      scan_interval_secs: 15,
      archive_after_secs: 14400,
    });
  });

  it("names the file, the key and the reason for a bad value", () => {
    const root = project("max_mesh_peers = -1\n");
    expect(() => loadProjectConfig(root)).toThrow(
      new RegExp(`${join(root, ".huskies", "project.toml").replace(/[/.]/g, "\\$&")}.*max_mesh_peers.*>=0`),
    );
  });

  it("reports unknown keys and TOML syntax errors", () => {
    expect(() => loadProjectConfig(project("max_coderz = 2\n"))).toThrow(/unknown key `max_coderz`/);
    expect(() => loadProjectConfig(project("port = = 1\n"))).toThrow(/invalid config .*project\.toml/);
    expect(() => loadProjectConfig(project("[gates]\ncommand = []\n"))).toThrow(/unknown key `gates.command`/);
  });

  it("requires command for the command runtime", () => {
    const root = project("", `[[agent]]\nname = "c"\nruntime = "command"\n`);
    expect(() => loadAgentsConfig(root)).toThrow(/agents\.toml.*agent\.0\.command/);
  });
});

describe("live config", () => {
  it("applies a valid edit and keeps the previous config after an invalid one", async () => {
    const root = project("max_mesh_peers = 3\n");
    const live = new LiveConfig(root).watch();
    try {
      await live.ready;
      writeFileSync(join(root, ".huskies", "project.toml"), "max_mesh_peers = 1\n");
      await waitFor(() => live.project.max_mesh_peers === 1, "reload");
      let rejected = "";
      live.on("rejected", (reason) => (rejected = reason));
      writeFileSync(join(root, ".huskies", "project.toml"), "max_mesh_peers = 'many'\n");
      await waitFor(() => rejected, "the invalid edit to be seen");
      expect(rejected).toMatch(/project\.toml.*max_mesh_peers/);
      expect(live.project.max_mesh_peers).toBe(1);
    } finally {
      await live.close();
    }
  });
});
