import { afterEach, describe, expect, it } from "vitest";
import { Cluster } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

describe("two huskies processes on one checkout (row 12)", () => {
  it("the second exits 1 with one line naming the first; a lock left by a killed process is taken over", async () => {
    project = createProject({ projectToml: projectToml(), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const checkout = project.clone("agent");
    const first = await cluster.agent(checkout, server.ws);

    const second = cluster.spawn("second", ["agent", checkout, "--rendezvous", server.ws, "--port", "0"]);
    expect((await second.exited).code).toBe(1);
    expect(second.logs.map((l) => l.msg)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: another huskies process is using this checkout: pid ${first.proc.pid} \\(\`huskies agent\`, since [^)]+\\) holds .*node\\.lock; stop it, or run this one in another checkout$`,
        ),
      ),
    ]);
    // A server on that checkout is refused the same way.
    const serve = cluster.spawn("serve", ["serve", checkout, "--port", "0", "--no-agent"]);
    expect((await serve.exited).code).toBe(1);
    expect(String(serve.logs.at(-1)?.msg)).toMatch(`pid ${first.proc.pid}`);
    expect(first.proc.exitCode).toBeNull();

    first.kill("SIGKILL");
    await first.exited;
    const again = await cluster.agent(checkout, server.ws);
    expect(again.logged("took over a stale checkout lock")[0]?.reason).toBe(`process ${first.proc.pid} is gone`);
  }, 60_000);
});
