import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, type NodeProc } from "../support/cluster.js";
import { DocClient } from "../support/doc-client.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";
import { documentDigest } from "../../src/state/digest.js";

const cluster = new Cluster();
let project: Project | undefined;
let replica: DocClient | undefined;
afterEach(async () => {
  replica?.close();
  replica = undefined;
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

async function file(server: NodeProc, name: string): Promise<{ status: number; id?: string }> {
  const res = await fetch(`${server.http}/api/stories`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { id?: string };
  return { status: res.status, id: body.id };
}

async function health(server: NodeProc): Promise<{ malformedEntries: number }> {
  return getJson(`${server.http}/health`, { signal: AbortSignal.timeout(5000) });
}

describe("a replica that writes a poisoned meta.lastNumber (row 2)", () => {
  it("2^53 and 1e21 are skipped and counted; the same name filed twice gets two new numbers; SIGTERM and a restart work", async () => {
    project = createProject();
    let server = await cluster.server(project.root, ["--no-agent"]);
    const first = await file(server, "Login");
    expect(first).toMatchObject({ status: 201, id: "1_story_login" });

    replica = new DocClient();
    await replica.link(server.ws);
    replica.pipeline.meta.set("lastNumber", 2 ** 53);
    const synced = async () => (await getJson<{ digest: string }>(`${server.http}/health`)).digest === documentDigest(replica!.doc);
    await waitFor(synced, "the server to hold the poisoned counter");
    const ids = [first.id];
    for (const name of ["Login", "Login"]) {
      const r = await waitFor(async () => {
        const got = await file(server, name);
        return got.status === 201 ? got : undefined;
      }, `filing ${name}`);
      ids.push(r.id);
    }
    expect((await health(server)).malformedEntries).toBeGreaterThan(0);

    replica.pipeline.meta.set("lastNumber", 1e21);
    await waitFor(synced, "the server to hold the second poisoned counter");
    await waitFor(async () => (await file(server, "Signup")).status === 201, "a create against 1e21");
    const stories = await getJson<Array<{ id: string }>>(`${server.http}/api/stories`);
    const numbers = stories.map((s) => Number(s.id.split("_")[0]));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(stories.map((s) => s.id)).toEqual(expect.arrayContaining(["2_story_login", "3_story_login"]));

    // No hot loop: SIGTERM is honoured, and the restarted server serves creates again.
    replica.close();
    replica = undefined;
    server.kill("SIGTERM");
    const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r("hung"), 20_000))]);
    expect(exit).toMatchObject({ code: 0 });
    server = await cluster.server(project.root, ["--no-agent"]);
    const after = await file(server, "Login");
    expect(after.status).toBe(201);
    const all = (await getJson<Array<{ id: string }>>(`${server.http}/api/stories`)).map((s) => Number(s.id.split("_")[0]));
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(5);
  }, 120_000);
});
