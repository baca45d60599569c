import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, Cluster, postJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/** A story log of two real `claude` runs (see test/fixtures/record-claude-transcript.mjs). */
const FIXTURE = readFileSync(join(import.meta.dirname, "..", "fixtures", "claude-story-log.jsonl"), "utf8");

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

async function serverWithLog() {
  project = createProject({ projectToml: projectToml() });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const item = await postJson<Item>(`${server.http}/api/stories`, { name: "Greet visitors" });
  writeFileSync(join(project.root, ".huskies", "logs", `${item.id}.log`), FIXTURE);
  return { server, id: item.id, env: { HUSKIES_SERVER: server.http } };
}

describe("huskies story log", () => {
  it("prints the readable timeline, and the raw lines with --json", async () => {
    const { id, env } = await serverWithLog();
    const readable = await runCli(["story", "log", id], { env });
    expect(readable.code).toBe(0);
    const lines = readable.stdout.trimEnd().split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/Bash +npm test --silent$/));
    expect(lines).toContainEqual(expect.stringMatching(/says +Done: `greeting.js` exports/));
    expect(lines).toContainEqual(expect.stringMatching(/✓ done \(8 turns · \$[0-9.]+ · [0-9.]+s\)$/));
    expect(lines.filter((l) => l.includes("▶ run: coder claude-1"))).toHaveLength(2);
    // Not a terminal: no colour codes.
    expect(readable.stdout).not.toContain("\x1b[");

    const raw = await runCli(["story", "log", id, "--json"], { env });
    expect(raw.stdout).toBe(FIXTURE);
  });

  it("--follow prints the existing timeline and keeps the stream open", async () => {
    const { id, env } = await serverWithLog();
    const proc = spawn(process.execPath, [CLI, "story", "log", id, "--follow"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    try {
      await waitFor(() => out.includes("Changed the greeting back"), "the followed timeline");
      expect(out).toMatch(/Bash +sed -i/);
      expect(proc.exitCode).toBeNull();
    } finally {
      proc.kill();
    }
  });

  it("names the problem for an unknown story, and says when a story has no log yet", async () => {
    const { env, server } = await serverWithLog();
    const r = await runCli(["story", "log", "999_story_nope"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown story 999_story_nope");
    const fresh = await postJson<Item>(`${server.http}/api/stories`, { name: "Not started" });
    const empty = await runCli(["story", "log", fresh.id], { env });
    expect(empty).toMatchObject({ code: 0, stdout: "", stderr: `no agent log for ${fresh.id} yet\n` });
  });
});
