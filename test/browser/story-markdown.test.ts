import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { DESKTOP, launchChromium, screenshotOf } from "../support/browser.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** Story text as people write it, with the things a renderer must not trust. */
const BODY = `# Render the story

As a *reviewer* I want **formatted** text, \`code\`, and [a link](https://example.com).

<img src="x" onerror="window.__pwned = 1"> <script>window.__pwned = 2</script>

[click me](javascript:window.__pwned=3)

\`\`\`md
- [ ] not a criterion: inside a code block
\`\`\`

| column | value |
|---|---|
| a | 1 |

## Acceptance criteria

- [ ] First real criterion
- [x] Second, already done
`;

describe("story markdown", () => {
  it("renders GFM without raw HTML or script URLs, and its criteria tick by their position in the source", async () => {
    project = createProject({ projectToml: projectToml() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const story = await postJson<Item>(`${server.http}/api/stories`, { name: "Render the story", body: BODY });
    const page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(server.http);
    await page.locator(`.card[data-id="${story.id}"]`).click();
    const dialog = page.getByRole("dialog");
    const md = dialog.locator(".markdown");
    await md.getByRole("table").waitFor();
    expect(await md.locator("em").textContent()).toBe("reviewer");
    expect(await md.locator("strong").textContent()).toBe("formatted");
    expect(await md.getByRole("link", { name: "a link" }).getAttribute("href")).toBe("https://example.com");
    expect(await md.locator("img, script").count()).toBe(0);
    expect(await md.getByRole("link", { name: "click me" }).getAttribute("href")).not.toMatch(/^javascript:/i);
    await md
      .getByRole("link", { name: "click me" })
      .click({ noWaitAfter: true })
      .catch(() => undefined);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();

    // The `- [ ]` line in the code block is text, not a checkbox; ticks land on the clicked line.
    expect(await md.locator("pre").textContent()).toContain("- [ ] not a criterion");
    expect(await md.getByRole("checkbox", { name: "Second, already done" }).isChecked()).toBe(true);
    await md.getByRole("checkbox", { name: "First real criterion" }).click();
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${story.id}`)).body.includes("- [x] First real criterion"),
      "the first real criterion to be ticked",
    );
    expect((await getJson<Item>(`${server.http}/api/stories/${story.id}`)).body).toContain("- [ ] not a criterion: inside a code block");
    await md.getByRole("checkbox", { name: "Second, already done" }).click();
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${story.id}`)).body.includes("- [ ] Second, already done"),
      "the second to be unticked",
    );
    await waitFor(
      async () => !(await md.getByRole("checkbox", { name: "Second, already done" }).isChecked()),
      "the box to follow the document",
    );
    expect(await md.getByRole("checkbox", { name: "First real criterion" }).isChecked()).toBe(true);
    await screenshotOf(dialog, "story-markdown-desktop");
  });
});
