import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, runCli } from "../support/cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

describe("huskies demo", () => {
  it("runs offline: three stories reach done with merge commits, then it cleans up", async () => {
    const r = await runCli(["demo"], { env: { ANTHROPIC_API_KEY: "", ANTHROPIC_BASE_URL: "" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/offline mode: the real `claude` binary runs/);
    expect(r.stdout).toContain("all three stories are done");
    const merges = r.stdout.split("\n").filter((l) => /^ {2}[0-9a-f]{7,} \d+_story_[a-z_]+: /.test(l));
    expect(merges).toHaveLength(3);
    const dir = /a throwaway project in (\S+)/.exec(r.stdout)![1]!;
    expect(existsSync(dir)).toBe(false);
  });

  it("--keep runs until Ctrl-C and then removes everything", async () => {
    const demo = cluster.spawn("demo", ["demo", "--keep"]);
    await waitFor(() => demo.stdout.some((l) => l.includes("running until Ctrl-C")), "the demo to finish its stories", 240_000, 200);
    const dir = /a throwaway project in (\S+)/.exec(demo.stdout.join("\n"))![1]!;
    expect(existsSync(dir)).toBe(true);
    demo.kill("SIGINT");
    expect((await demo.exited).code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
