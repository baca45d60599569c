import pino from "pino";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { afterEach, describe, expect, it } from "vitest";
import type { Certificate } from "../../src/trust/admission.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { SyncClient } from "../../src/sync/sync-client.js";
import { SyncConnection } from "../../src/sync/sync-connection.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { frameType, MSG_AWARENESS } from "../../src/sync/sync-message.js";
import { Cluster, postJson } from "../support/cluster.js";
import { projectToml } from "../support/coders.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  cleanups.splice(0).forEach((c) => c());
  await cluster.stopAll();
  project?.cleanup();
  project = undefined;
});

describe("one board awareness update in a meshed cluster", () => {
  it("reaches an observer on an agent a handful of times, not in a storm", async () => {
    project = createProject({ projectToml: projectToml({ max_mesh_peers: 3 }), agentsToml: "" });
    const server = await cluster.server(project.root, ["--no-agent"]);
    const agents = [];
    for (let i = 0; i < 3; i++) agents.push(await cluster.agent(project.clone(`agent${i}`), server.ws));
    await waitFor(
      async () => (await Promise.all(agents.map((a) => a.health()))).every((h) => h.mesh.connected.length === 2),
      "the mesh to form",
      60_000,
      200,
    );

    // The observer is a huskies node: agents serve only admitted keys, so it first gets its
    // certificate from the (open, loopback) rendezvous like any agent does.
    const identity = ephemeralIdentity();
    const log = pino({ level: "silent" });
    let cert: Certificate | undefined;
    const upstream = new SyncClient({
      url: server.ws,
      hub: new SyncHub(new Y.Doc(), log),
      identity,
      maxFrameBytes: 1 << 20,
      onAdmission: (c) => {
        cert = c;
      },
    }).start();
    cleanups.push(() => upstream.stop());
    await waitFor(() => cert, "a certificate from the rendezvous");
    upstream.stop();

    const ws = new WebSocket(agents[0]!.ws);
    let awarenessFrames = 0;
    ws.on("message", (data: Buffer) => {
      if (frameType(new Uint8Array(data)) === MSG_AWARENESS) awarenessFrames += 1;
    });
    const observerDoc = new Y.Doc();
    const observer = new SyncConnection(
      ws,
      new SyncHub(observerDoc, log),
      { kind: "connect", identity, admission: () => cert },
      { maxFrameBytes: 1 << 20 },
    );
    cleanups.push(() => ws.terminate());
    await new Promise((resolve) => observer.once("ready", resolve));

    // The board: an unmodified y-websocket provider on the rendezvous, setting its presence once.
    const boardDoc = new Y.Doc();
    const board = new WebsocketProvider(`ws://127.0.0.1:${server.port}`, "crdt-sync", boardDoc, {
      WebSocketPolyfill: WebSocket as never,
      disableBc: true,
    });
    cleanups.push(() => board.destroy());
    await waitFor(() => board.synced, "the board to sync");
    board.awareness.setLocalState({ user: { name: "board" } });
    await waitFor(() => awarenessFrames > 0, "the board's presence to reach the observer");
    // Barriers instead of a clock: a story filed on the rendezvous that has reached the observer
    // went the same way as the presence (rendezvous, agent, observer; each link in order), so every
    // frame relayed before it has arrived too. A storm (the issue saw ~26 frames per millisecond)
    // keeps sending between barriers; a quiet relay does not. (A board's own document write cannot
    // serve: a stock client is no operator, so its writes are ignored, §13.)
    const barrier = async (n: number) => {
      const story = await postJson<{ id: string }>(`${server.http}/api/stories`, { name: `Barrier ${n}` });
      await waitFor(() => observerDoc.getMap("items").has(story.id), `barrier ${n} to reach the observer`);
    };
    await barrier(0);
    const before = awarenessFrames;
    for (let n = 1; n <= 5; n++) await barrier(n);
    expect(awarenessFrames).toBeLessThan(40);
    expect(awarenessFrames - before).toBeLessThan(10);
  });
});
