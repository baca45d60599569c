import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson, runCli } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

/** A coder that commits the prompt it was given, so the test can read what each attempt was told. */
const COMMIT_PROMPT = 'cp "$HUSKIES_PROMPT_FILE" prompt.md && git add -A && git commit -qm "attempt for $HUSKIES_STORY_ID"';

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

describe("a story sent back with a review comment", () => {
  it("carries the comment into the coder's next prompt, as the board's comment box promises", async () => {
    project = createProject({ projectToml: projectToml({ default_qa: "human" }), agentsToml: commandSlots(1, COMMIT_PROMPT) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    await cluster.agent(project.clone("agent"), server.ws);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Greet visitors", stage: "current" });
    const inQa = () =>
      waitFor(
        async () => {
          const i = await getJson<Item>(`${server.http}/api/stories/${story.id}`);
          return i.stage === "qa" ? i : undefined;
        },
        "the story to reach qa",
        60_000,
      );
    await inQa();
    const comment = "Say hello to the reviewer, please.";
    const moved = await runCli(["story", "move", story.id, "current", "--reason", comment], { env: { HUSKIES_SERVER: server.http } });
    expect(moved.code).toBe(0);
    // (The fast coder may already have taken it again: the next check is on what it was told.)
    const attempts = () =>
      git(project!.origin, "log", "--format=%s", `feature/story-${story.id}`)
        .split("\n")
        .filter((s) => s.startsWith("attempt for")).length;
    await waitFor(() => attempts() >= 2, "a second attempt on the branch", 60_000);
    await inQa();
    const prompt = git(project.origin, "show", `feature/story-${story.id}:prompt.md`);
    expect(prompt).toContain("The previous attempt failed");
    expect(prompt).toContain(comment);
  });
});
