import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { commandSlots, projectToml } from "../support/coders.js";
import { parseProm, sampleValue } from "../support/prometheus.js";
import { waitFor } from "../support/wait-for.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

describe("GET /metrics on real nodes", () => {
  it("counts stories per stage on the rendezvous, grants, claim-to-start and runs on the agent", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }), agentsToml: commandSlots(1) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agent = await cluster.agent(project.clone("a"), server.ws);
    for (const name of ["One", "Two", "Three"]) await postJson(`${server.http}/api/stories`, { name });
    const worked = await postJson<Item>(`${server.http}/api/stories`, { name: "Worked", stage: "current" });
    await waitFor(async () => (await getJson<Item>(`${server.http}/api/stories/${worked.id}`)).stage === "qa", "the story in qa");

    const res = await fetch(`${server.http}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const { samples } = parseProm(await res.text());
    expect(sampleValue(samples, "huskies_stories", { stage: "backlog" })).toBe(3);
    expect(sampleValue(samples, "huskies_stories", { stage: "current" })).toBe(0);
    expect(sampleValue(samples, "huskies_stories", { stage: "qa" })).toBe(1);
    expect(sampleValue(samples, "huskies_claims_granted_total")).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, "huskies_replica_bytes")).toBeGreaterThan(0);

    const onAgent = parseProm(await (await fetch(`${agent.http}/metrics`)).text()).samples;
    expect(sampleValue(onAgent, "huskies_runs_total", { outcome: "done" })).toBe(1);
    expect(sampleValue(onAgent, "huskies_claim_to_start_seconds_count")).toBe(1);
    expect(sampleValue(onAgent, "huskies_sync_links", { kind: "upstream" })).toBe(1);
  });

  it("needs the admin token where reads do", async () => {
    project = createProject({ projectToml: projectToml({ auth: "required" }) });
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: "metrics-admin" });
    expect((await fetch(`${server.http}/metrics`)).status).toBe(401);
    const ok = await fetch(`${server.http}/metrics`, { headers: { authorization: "Bearer metrics-admin" } });
    expect(ok.status).toBe(200);
    expect(parseProm(await ok.text()).samples.length).toBeGreaterThan(0);
  });
});
