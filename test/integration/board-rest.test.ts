import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, postJson } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import type { Item } from "../../src/state/item.js";
import type { BoardSnapshot } from "../../src/server/board-snapshot.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

async function post(url: string, body: unknown): Promise<{ status: number; body: { error?: string } & Partial<Item> }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as never };
}

describe("the board's REST routes", () => {
  it("GET /api/board: each column's newest cards without bodies, counts, archived counted only", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const a = await postJson<Item>(`${server.http}/api/stories`, { name: "Older", body: "secret-ish body text" });
    const b = await postJson<Item>(`${server.http}/api/stories`, { name: "Newer" });
    const gone = await postJson<Item>(`${server.http}/api/stories`, { name: "Gone" });
    await postJson(`${server.http}/api/stories/${gone.id}/move`, { stage: "archived" });
    const snap = await getJson<BoardSnapshot>(`${server.http}/api/board`);
    expect(snap.stages.backlog.total).toBe(2);
    expect(snap.stages.backlog.cards.map((c) => c.id)).toEqual([b.id, a.id]);
    expect(snap.stages.backlog.cards.every((c) => c.body === "")).toBe(true);
    expect(snap.stages.archived).toEqual({ total: 1, cards: [] });
    expect(snap.nodes.map((n) => n.id)).toEqual([server.nodeId]);
    // A change shows in the next answer (the cached columns follow the document).
    await postJson(`${server.http}/api/stories/${a.id}/move`, { stage: "current" });
    const next = await getJson<BoardSnapshot>(`${server.http}/api/board`);
    expect(next.stages.current.cards.map((c) => c.id)).toEqual([a.id]);
    expect(next.stages.backlog.total).toBe(1);
  });

  it("POST …/review, …/approve, …/reject: validated bodies (400), stage rules (409), the review on the item", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const s = await postJson<Item>(`${server.http}/api/stories`, { name: "Review me", stage: "current" });
    const url = (what: string) => `${server.http}/api/stories/${s.id}/${what}`;
    expect((await post(url("review"), { summary: "too early" })).status).toBe(409);
    await postJson(url("move"), { stage: "qa" });
    const bad = await post(url("review"), { comments: [{ file: "a.ts", line: -1, text: "x" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^comments\.0\.line: /);
    expect((await post(url("review"), { comments: [{ file: "a.ts", line: 1, text: "x".repeat(5000) }] })).status).toBe(400);
    expect((await post(url("review"), [])).status).toBe(400);
    expect((await post(url("reject"), {})).status).toBe(400);
    expect((await post(url("approve"), {})).status).toBe(409);
    const ok = await post(url("review"), {
      summary: "Two things.",
      comments: [
        { file: "src/a.ts", line: 3, text: "Rename." },
        { file: "src/a.ts", line: 1, text: "Removed too much.", old: true },
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      stage: "current",
      failure: { kind: "rework", message: "review: 2 line comments on 1 file. Two things." },
    });
    expect((await getJson<Item>(`${server.http}/api/stories/${s.id}`)).review?.comments).toHaveLength(2);
    expect((await post(url("approve"), {})).body.error).toContain("only a story in qa can be approved");
  });
});
