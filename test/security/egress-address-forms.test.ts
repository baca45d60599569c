import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

/** A CONNECT through the egress proxy (reached at 127.0.0.1:3128 inside the sandbox): its status line. */
const connect = (target: string) =>
  `printf 'CONNECT ${target} HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n' | socat -T3 - TCP:127.0.0.1:3128 | head -1 | sed 's/^/${target} -> /'`;

/** A plain-http absolute-URI request through the proxy: the node's /health answer, if it got through. */
const viaHttp = (url: string) => `curl -s -m5 -x http://127.0.0.1:3128 '${url}' | head -c 200 | sed 's|^|${url} -> |'; echo`;

// Another spelling of loopback or of the metadata address is the same address: the rule must see it.
const FORMS = ["[::ffff:7f00:1]", "[0:0:0:0:0:ffff:7f00:1]", "[0:0:0:0:0:0:0:1]", "[::127.0.0.1]"];

describe.skipIf(missingSandboxTools().length > 0 && !process.env.CI)("the egress proxy and other spellings of an address", () => {
  it("refuses IPv4-mapped, long-form and IPv4-compatible spellings of loopback and of the metadata range", async () => {
    project = createProject({ projectToml: projectToml() });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    const probes = [
      ...FORMS.map((f) => connect(`${f}:${server.port}`)),
      connect("[::ffff:a9fe:a9fe]:80"),
      ...FORMS.map((f) => viaHttp(`http://${f}:${server.port}/health`)),
    ];
    const script = `{ ${probes.join("; ")}; } > report.txt 2>&1; git add -A && git commit -qm report`;
    writeFileSync(join(agentRoot, ".huskies", "agents.toml"), commandSlots(1, script));
    await cluster.agent(agentRoot, server.ws);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Reach home", stage: "current" });
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa",
      "the story to reach qa",
      60_000,
      250,
    );
    const report = git(project.origin, "show", `feature/story-${s.id}:report.txt`);
    expect(report).not.toContain("200 Connection Established");
    expect(report).not.toContain("nodeId");
    // Each answer that came back is a refusal (a CONNECT line may be missing when socat gave up under load).
    for (const line of report.split("\n").filter((l) => l.includes(" -> ")))
      expect(line).toMatch(/-> (HTTP\/1.1 403|huskies egress: .* not reachable)/);
    expect(report.match(/-> (HTTP\/1.1 403|huskies egress)/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
  });
});
