import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, getJson, runCli, type NodeProc } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { SCHEMA } from "../../src/state/migrations/index.js";
import { Replica } from "../../src/state/replica.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { ephemeralIdentity, loadOrCreateIdentity } from "../../src/trust/identity.js";
import type { Item } from "../../src/state/item.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/**
 * A checkout whose node holds a replica written before versions: no `meta.schema`, and an item
 * whose `failure` is plain text (schema 1; schema 2 made it `{kind, message}`).
 */
function oldReplica(root: string): string {
  const id = loadOrCreateIdentity(join(root, ".huskies", "node.key")).nodeId;
  const replica = new Replica(new SqliteStore(join(root, ".huskies", "replica.db")));
  replica.doc.transact(() => {
    const item = new Y.Map<unknown>();
    replica.doc.getMap("items").set("1_story_old_one", item);
    for (const [k, v] of Object.entries({
      id: "1_story_old_one",
      name: "Old one",
      type: "story",
      stage: "backlog",
      body: "# Old one\n",
      createdAt: 1,
      stageAt: 1,
      claim: null,
      epoch: 0,
      retries: 1,
      blocked: null,
      dependsOn: [],
      failure: "gates failed:\nnpm test exited 1",
    }))
      item.set(k, v);
    item.set("requests", new Y.Map());
    replica.doc.getMap("meta").set("lastNumber", 1);
  });
  expect(replica.doc.getMap("meta").get("schema")).toBeUndefined();
  replica.close();
  return id;
}

async function migrated(node: NodeProc): Promise<void> {
  const health = await getJson<{ schema?: { document: number } }>(`${node.http}/health`);
  const item = await getJson<Item>(`${node.http}/api/stories/1_story_old_one`);
  expect({ schema: health.schema?.document, failure: item.failure }).toEqual({
    schema: SCHEMA,
    failure: { kind: "gates", message: "gates failed:\nnpm test exited 1" },
  });
}

describe("a replica of an older schema brought back by restore or recovery", () => {
  it("is migrated when the restored rendezvous opens it, and when a rendezvous is recovered from it", async () => {
    project = createProject({ projectToml: projectToml({ auto_promote: false }) });
    const oldRoot = project.clone("old-node");
    const nodeId = oldReplica(oldRoot);
    const file = join(project.dir, "old.hbak");
    const backup = await runCli(["backup", file, oldRoot]);
    expect(backup.code, backup.stderr).toBe(0);

    const restoredRoot = project.clone("restored");
    expect((await runCli(["restore", file, restoredRoot])).code).toBe(0);
    const restored = await cluster.server(restoredRoot, ["--no-agent"]);
    expect(restored.nodeId).toBe(nodeId);
    await migrated(restored);
    await restored.stop();

    // The same old replica as an agent's, pinned to a rendezvous that is gone.
    writeFileSync(
      join(oldRoot, ".huskies", "rendezvous.json"),
      JSON.stringify({ url: "ws://127.0.0.1:1/crdt-sync", nodeId: ephemeralIdentity().nodeId }),
    );
    const recovered = await cluster
      .spawn("recovered", ["serve", project.clone("recovered"), "--from-replica", oldRoot, "--no-agent", "--port", "0"])
      .ready();
    await migrated(recovered);
  });
});
