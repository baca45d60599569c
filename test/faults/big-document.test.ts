import { afterEach, describe, expect, it } from "vitest";
import { Cluster, postJson } from "../support/cluster.js";
import { projectToml } from "../support/coders.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

describe("a document larger than max_frame_bytes", () => {
  it("syncs to a new agent (in chunks) and both replicas end identical", async () => {
    const maxFrame = 64 * 1024;
    project = createProject({ projectToml: projectToml({ max_frame_bytes: maxFrame }), agentsToml: "" });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const body = "lorem ipsum dolor sit amet ".repeat(800); // ~21 KB each
    for (let i = 0; i < 12; i++) await postJson(`${server.http}/api/stories`, { name: `Big ${i}`, body: `${i} ${body}` });
    const agent = await cluster.agent(project.clone("agent"), server.ws);
    await waitFor(
      async () => {
        const [s, a] = await Promise.all([server.health(), agent.health()]);
        return a.items === 12 && s.digest === a.digest;
      },
      "the agent's replica to match the server's",
      60_000,
      200,
    );
    const tooBig = [...server.logs, ...agent.logs].filter(
      (l) => l.msg === "closing sync connection" && (l.code === 1009 || /Max payload/.test(String(l.reason))),
    );
    expect(tooBig).toEqual([]);
  });
});
