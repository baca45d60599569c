import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, git, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { waitFor } from "../support/wait-for.js";
import { missingSandboxTools } from "../../src/runtime/sandbox.js";
import { PLACEHOLDER_KEY } from "../../src/confinement/credential-proxy.js";
import type { Item } from "../../src/state/item.js";

const REAL_KEY = "sk-openai-real-key-of-the-node";

const cluster = new Cluster();
let project: Project | undefined;
let upstream: Server | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
  if (upstream) await new Promise<void>((r) => upstream!.close(() => r()));
  project = upstream = undefined;
});

/** Runs `script` as a confined command coder; returns what it committed to `report.txt`. */
async function runCoder(script: string, env: Record<string, string>, slotEnv: string[] = []): Promise<{ report: string; server: string }> {
  project = createProject({ projectToml: projectToml() });
  const server = await cluster.server(project.root, ["--no-agent"]);
  const agentRoot = project.clone("agent");
  const full = `{ ${script.replace(/SERVER_PORT/g, String(server.port))}; } > report.txt 2>&1; git add -A && git commit -qm report`;
  const { writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  writeFileSync(join(agentRoot, ".huskies", "agents.toml"), commandSlots(1, full, "coder", "coder", slotEnv));
  await cluster.agent(agentRoot, server.ws, [], env);
  const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Reach out", stage: "current" });
  await waitFor(
    async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa",
    "the story to reach qa",
    60_000,
    250,
  );
  return { report: git(project.origin, "show", `feature/story-${s.id}:report.txt`), server: server.http };
}

const connect = (target: string) =>
  `printf 'CONNECT ${target} HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n' | socat -T3 - TCP:127.0.0.1:3128 | head -1 | sed 's/^/${target} -> /'`;

describe.skipIf(missingSandboxTools().length > 0 && !process.env.CI)("a confined process's network", () => {
  it("cannot reach the node's ports or the metadata range, directly or through the egress proxy", async () => {
    const { report } = await runCoder(
      [
        "(socat -T2 - TCP:127.0.0.1:SERVER_PORT </dev/null && echo 'direct to node port: connected') || echo 'direct to node port: failed'",
        connect("127.0.0.1:SERVER_PORT"),
        connect("localhost:SERVER_PORT"),
        connect("169.254.169.254:80"),
        connect("[::1]:SERVER_PORT"),
      ].join("; "),
      {},
    );
    expect(report).toContain("direct to node port: failed");
    expect(report).not.toContain("connected");
    for (const t of ["127.0.0.1", "localhost", "169.254.169.254", "[::1]"])
      expect(report).toMatch(new RegExp(`${t.replace(/[[\].]/g, "\\$&")}:\\d+ -> HTTP/1.1 403`));
  });

  it("reaches the model API through the credential proxy with a placeholder key; the node's key is added outside", async () => {
    const seen: string[] = [];
    upstream = createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ path: req.url, models: ["gpt-scripted"] }));
    });
    await new Promise<void>((r) => upstream!.listen(0, "127.0.0.1", () => r()));
    const base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/v1`;
    const { report } = await runCoder(
      `echo "key=$OPENAI_API_KEY url=$OPENAI_BASE_URL"; node -e 'fetch(process.env.OPENAI_BASE_URL + "/models", { headers: { authorization: "Bearer " + process.env.OPENAI_API_KEY } }).then((r) => r.text()).then((t) => console.log("answer " + t), (e) => console.log("fetch failed " + e.cause))'`,
      { OPENAI_API_KEY: REAL_KEY, OPENAI_BASE_URL: base },
      ["OPENAI_API_KEY"],
    );
    expect(report).toContain(`key=${PLACEHOLDER_KEY}`);
    expect(report).not.toContain(REAL_KEY);
    expect(report).toContain('answer {"path":"/v1/models","models":["gpt-scripted"]}');
    expect(seen).toEqual([`Bearer ${REAL_KEY}`]);
  });
});

describe("without a working sandbox", () => {
  it("auto runs unconfined with a warning line on every run and /health says confined: false; required pauses the node", async () => {
    project = createProject({ projectToml: projectToml({}, ["true"]), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agentRoot = project.clone("agent");
    const agent = await cluster.agent(agentRoot, server.ws, [], { HUSKIES_BWRAP: "/nonexistent/bwrap" });
    const health = await (await fetch(`${agent.http}/health`)).json();
    expect(health.confined).toBe(false);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Unconfined", stage: "current" });
    await waitFor(
      async () => (await getJson<Item>(`${server.http}/api/stories/${s.id}`)).stage === "qa",
      "the story to reach qa",
      60_000,
      250,
    );
    const warnings = agent.logs.filter((l) => typeof l.msg === "string" && /running unconfined/.test(l.msg) && l.story === s.id);
    // One line for the coder's run and one for the gate's.
    expect(warnings.map((w) => w.slot)).toEqual(expect.arrayContaining(["coder-1", "gate"]));
    expect(warnings.length).toBeGreaterThanOrEqual(2);

    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    writeFileSync(
      join(agentRoot, ".huskies", "agents.toml"),
      commandSlots(1).replace('runtime = "command"', 'runtime = "command"\nsandbox = "required"'),
    );
    await waitFor(
      async () => {
        const h = await (await fetch(`${agent.http}/health`)).json();
        return typeof h.paused?.reason === "string" && h.paused.reason.includes('sandbox = "required"') ? h : undefined;
      },
      "the node to pause on its preflight",
      20_000,
      200,
    );
  });
});
